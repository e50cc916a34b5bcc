"""One identity key per e-mail, phone, name and contact point, whoever asks."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crmcore.normalize import (
    contact_point_key,
    email_key,
    email_keys,
    identifier_keys,
    normalize_phone,
    phone_key,
    phone_keys,
    text_identifier_keys,
)
from tests.normalize.strategies import phone_text

UK = "+442079460000"
UK_WRITINGS = [
    "+44 (0)20 7946-0000",
    "+44 20 7946 0000",
    "+44.20.7946.0000",
    "0044 20 7946 0000",
    "+442079460000",
    "(+44) 20-7946-0000",
]


class TestPhoneKey:
    @settings(max_examples=300, deadline=None)
    @given(
        st.one_of(
            st.text(alphabet="0123456789 ()-.x#;=etnsio/ABCFLOW", max_size=24),
            st.from_regex(r"\A\(?[1-9][0-9 ().-]{5,16}( (x|ext\.?) ?[0-9]{1,4})?\Z"),
            st.text(max_size=12),
        )
    )
    def test_national_writing_without_region_has_no_e164(self, value: str) -> None:
        """Without '+', a leading 00 or a region, normalize_phone finds no number (the
        shortcut phone_key and its batch form take)."""
        if "+" in value or re.match(r"^[^0-9]*0[^0-9]*0", value):
            return
        assert normalize_phone(value) is None

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.one_of(
                st.text(alphabet="0123456789 +()-.x#;=etnsio/", max_size=20),
                st.sampled_from([*UK_WRITINGS, "020 7946 0000 ext. 12", "(0)0 12345",
                                 "1-800-FLOWERS", "011 44 20 7946 0000", "00", "+", "0"]),
                st.from_regex(r"\A(\+|00)?[1-9][0-9 ]{6,14}( (x|ext\.?) ?[0-9]{1,4})?\Z"),
                st.text(max_size=8),
            ),
            min_size=1,
            max_size=40,
        )
    )
    def test_batch_form_equals_the_scalar(self, values: list[str]) -> None:
        """phone_keys (national writings in pyarrow, the rest per value) equals phone_key."""
        many = values * (2_100 // len(values) + 1)
        assert phone_keys(many) == [phone_key(v) for v in many]

    @settings(max_examples=60, deadline=None)
    @given(st.lists(phone_text(), min_size=1, max_size=60))
    def test_batch_form_equals_the_scalar_on_international_writings(
        self, values: list[str]
    ) -> None:
        """phone_keys equals phone_key on writings of every country code (+, 00, a (0) trunk,
        separators, extensions), which the batch form decides in pyarrow where it can."""
        many = values * (2_100 // len(values) + 1)
        assert phone_keys(many) == [phone_key(v) for v in many]

    def test_batch_form_decides_common_international_writings(self) -> None:
        """The pyarrow form decides +, 00, extension and (0) trunk-prefix writings itself,
        equal to the scalar, and leaves national writings to it."""
        pa = pytest.importorskip("pyarrow")
        pc = pytest.importorskip("pyarrow.compute")
        from crmcore.normalize._phone import international_fast_batch

        values = ["+44 20 7946 0000", "0044 20 7946 0000", "+1 415 555 0134 x7",
                  "+44 (0)20 7946 0000", "020 7946 0000", "+39 06 1234 5678"]  # fmt: skip
        keys, decided = international_fast_batch(pa, pc, pa.array(values))
        assert decided.to_pylist() == [True, True, True, True, False, True]
        for value, key, done in zip(values, keys.to_pylist(), decided.to_pylist(), strict=True):
            if done:
                assert key == phone_key(value)

    @pytest.mark.parametrize("text", UK_WRITINGS)
    def test_international_writings_share_one_key(self, text: str) -> None:
        """Spaced, dotted, dashed, 00-prefixed and (0)-trunk writings key to the E.164 number."""
        assert phone_key(text) == UK

    @pytest.mark.parametrize("text", ["020 7946 0000", "020-7946-0000", "(020) 7946 0000"])
    def test_national_writings_with_a_region(self, text: str) -> None:
        """National numbers read in the region key to the same number; without one by digits."""
        assert phone_key(text, "GB") == UK
        assert phone_key(text, "United Kingdom") == UK
        assert phone_key(text) == "02079460000"

    def test_extension_is_kept(self) -> None:
        """An extension stays part of the key (colleagues share a switchboard)."""
        assert phone_key("+44 20 7946 0000 x12") == UK + ";ext=12"
        assert phone_key("+44 20 7946 0000 x12") != phone_key("+44 20 7946 0000 x13")

    def test_rejected_numbers_key_by_digits(self) -> None:
        """A number the normaliser rejects still finds itself, written any way."""
        assert normalize_phone("+1 000") is None
        assert phone_key("+1 (000) 12") == phone_key("+1.000.12") == "+100012"
        assert phone_key("12-34") is None
        assert phone_key(None) is None

    @settings(max_examples=200, deadline=None)
    @given(st.text(alphabet="+0123456789 ().-x", max_size=20))
    @example("+11000000000+1")  # digits a trunk prefix hides: E.164 drops the "1" on re-keying
    def test_idempotent(self, text: str) -> None:
        """The key of a key is the key."""
        key = phone_key(text)
        assert key is None or phone_key(key) == key


class TestEmailKey:
    def test_mailbox(self) -> None:
        """Case, spaces, mailto:, +tags and Gmail dots do not change the mailbox."""
        writings = ["Ann.Lee+news@GoogleMail.com", " annlee@gmail.com ", "mailto:ann.lee@gmail.com"]
        for text in writings:
            assert email_key(text) == "annlee@gmail.com"
        assert email_key("bob+x@acme.io") == "bob@acme.io"
        assert email_key("bob@localhost") is None
        assert email_key("b ob@acme.io") is None
        assert email_key("+x@acme.io") is None

    def test_display_name(self) -> None:
        """An address with a display name, as mail programs export it, is its address."""
        assert email_key("Ann Lee <Ann.Lee+news@GoogleMail.com>") == "annlee@gmail.com"
        assert email_key('"Lee, Ann" < ann@acme.io >') == "ann@acme.io"
        assert email_key("Ann Lee <not an address>") is None

    @settings(max_examples=50, deadline=None)
    @given(
        st.lists(
            st.one_of(
                st.text(alphabet="aB.+@ x-_:mailto<>", max_size=14),
                st.sampled_from(["Ann@GMail.com", "mailto:a@b.co", " a.b+c@googlemail.com ",
                                 "Ann Lee <Ann@GMail.com>", '"Lee, Ann" < a@b.co >', "<a@b.co>"]),
                st.text(max_size=8),
            ),
            min_size=1,
            max_size=40,
        )
    )
    def test_batch_form_equals_the_scalar(self, values: list[str]) -> None:
        """The pyarrow batch form gives exactly the scalar keys (long lists take the kernel)."""
        many = values * (2_100 // len(values) + 1)
        assert email_keys(many) == [email_key(v) for v in many]

    def test_idempotent(self) -> None:
        """The key of a key is the key."""
        for text in ["Ann.Lee+news@GoogleMail.com", "X@Y.org"]:
            key = email_key(text)
            assert key is not None
            assert email_key(key) == key


class TestContactPointKey:
    def test_channels(self) -> None:
        """E-mails by mailbox, phone channels by number, other text case-folded."""
        assert contact_point_key("email", " Ann@Acme.io ") == "ann@acme.io"
        for channel in ("phone", "sms", "whatsapp"):
            assert contact_point_key(channel, "+44 (0)20 7946-0000") == UK
        assert contact_point_key("sms", "020 7946 0000", "GB") == UK
        assert contact_point_key("post", " 1 High  St ") == "1 high st"
        assert contact_point_key("email", "Not An Email") == "not an email"


class TestIdentifierKeys:
    def test_record_country_reads_national_numbers(self) -> None:
        """A record's country is the region of its national numbers."""
        record = {"phone": "020 7946 0000", "country": "GB", "email": "Ann@Acme.io"}
        assert identifier_keys(record) == ["email:ann@acme.io", "phone:" + UK]
        assert identifier_keys({"phone": "020 7946 0000"}, region="GB") == ["phone:" + UK]

    def test_name_and_date_of_birth(self) -> None:
        """Name + date of birth is one key; the name in any order and case."""
        a = identifier_keys({"full_name": "Smith, John", "dob": "1980-02-03"})
        b = identifier_keys({"first_name": "JOHN", "last_name": "Smith", "dob": "1980-02-03"})
        assert a == b == ["name_dob:john smith|1980-02-03"]

    def test_free_text(self) -> None:
        """Addresses and numbers in free text get the same keys as in fields."""
        keys = text_identifier_keys("Call +44 (0)20 7946-0000 or mail Ann@Acme.io.")
        assert keys == ["email:ann@acme.io", "phone:" + UK]
