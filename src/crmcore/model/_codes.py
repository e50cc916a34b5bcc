"""Code tables shipped with the model: ISO 4217 currencies and ISO 3166-1 alpha-2 countries.

The country table is the 249 officially assigned ISO 3166-1 alpha-2 codes plus ``XK``
(Kosovo), a user-assigned code that CRMs, the EU, SWIFT and libphonenumber (+383) use because
ISO has not assigned one: a Kosovo address must validate.

The tables are plain frozensets so hosts can extend them (``CURRENCY_CODES | {"XBT"}``) and pass
the result to the validation rules (:class:`crmcore.model.CurrencyCode`,
:class:`crmcore.model.CountryCode`).

Example:
    >>> is_currency_code("EUR"), is_currency_code("EURO"), is_country_code("DE")
    (True, False, True)
"""

from __future__ import annotations

#: Active ISO 4217 alphabetic currency codes (including funds codes, precious metals and the
#: X-codes of the standard), as published in the ISO 4217 list one (2025 edition).
_CURRENCIES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN
    ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD
    JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT
    MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG
    QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA
    XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG ZWL
"""
CURRENCY_CODES: frozenset[str] = frozenset(_CURRENCIES.split())

#: ISO 3166-1 alpha-2 country codes: the 249 officially assigned codes, plus ``XK`` below.
_COUNTRIES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW
"""
#: Kosovo. ``XK`` is not assigned by ISO 3166-1: it is in the user-assigned range (AA, QM-QZ,
#: XA-XZ, ZZ), and is used for Kosovo by the European Commission, SWIFT/IBAN, Unicode CLDR,
#: libphonenumber (region ``XK``, calling code +383) and the big CRMs. Hosts that must accept
#: officially assigned codes only can validate with ``COUNTRY_CODES - {"XK"}``.
_USER_ASSIGNED = ("XK",)
COUNTRY_CODES: frozenset[str] = frozenset((*_COUNTRIES.split(), *_USER_ASSIGNED))


def is_currency_code(code: object) -> bool:
    """Return whether ``code`` is an ISO 4217 alphabetic currency code (upper case)."""
    return isinstance(code, str) and code in CURRENCY_CODES


def is_country_code(code: object) -> bool:
    """Return whether ``code`` is an ISO 3166-1 alpha-2 country code (upper case) or ``XK``."""
    return isinstance(code, str) and code in COUNTRY_CODES
