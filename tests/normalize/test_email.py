"""E-mail addresses: provider rules, IDNA, the fast path agrees with the full path."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import FieldProblem
from crmcore.normalize import normalize_domain, normalize_email
from crmcore.normalize._email import _email_core, _email_full

_PARTS = ["a", "Z", "0", ".", "_", "-", "+", "@", "!", "'", "xn--", "é", " ", "com", "io",
          "gmail", "googlemail", "..", "@acme.io", "<", ">", "mailto:", "test", "ü"]  # fmt: skip


class TestNormalizeEmail:
    def test_gmail_rules(self) -> None:
        """Gmail and Googlemail: dots and +tags ignored, one domain."""
        assert normalize_email("J.Smith+crm@GoogleMail.com") == "jsmith@gmail.com"
        assert normalize_email("jsmith@gmail.com") == "jsmith@gmail.com"

    def test_plus_kept_unless_asked(self) -> None:
        """Other domains keep +tags unless strip_plus=True."""
        assert normalize_email("ann+x@acme.io") == "ann+x@acme.io"
        assert normalize_email("ann+x@acme.io", strip_plus=True) == "ann@acme.io"

    def test_local_case(self) -> None:
        """The local part is lowercased by default, kept with lowercase_local=False."""
        assert normalize_email("Ann@ACME.io", lowercase_local=False) == "Ann@acme.io"

    def test_reasons(self) -> None:
        """Rejections say which rule failed."""
        issues: list[FieldProblem] = []
        for value in ["ann", "ann@acme", "an..n@acme.io", "test@test.com"]:
            assert normalize_email(value, issues=issues, record="r") is None
        assert [p.rule for p in issues] == [
            "email.format", "email.domain", "email.local", "email.placeholder"
        ]  # fmt: skip

    @settings(max_examples=150, deadline=None)
    @given(
        st.text("abcdefghij", min_size=1, max_size=8),
        st.text("abcdéüßÄ", min_size=1, max_size=8),
    )
    def test_idna_forms_are_one_domain(self, local: str, label: str) -> None:
        """The Unicode and the xn-- form of a domain give the same address."""
        try:
            a_label = label.encode("idna").decode("ascii")
        except UnicodeError:
            return
        unicode_form = normalize_email(f"{local}@{label}.de")
        assert unicode_form == normalize_email(f"{local}@{a_label}.de")
        mapped = a_label.encode("ascii").decode("idna")  # nameprep: case folded, ß -> ss
        assert unicode_form is None or unicode_form.endswith(f"@{mapped}.de")


class TestFastPath:
    @settings(max_examples=400, deadline=None)
    @given(
        st.lists(st.sampled_from(_PARTS), min_size=1, max_size=9).map("".join),
        st.sampled_from([{}, {"strip_plus": True}, {"lowercase_local": False}]),
    )
    def test_fast_path_agrees_with_full_path(self, text: str, options: dict[str, bool]) -> None:
        """The ASCII fast path gives exactly what the full path gives (brute-force reference)."""
        text = text.strip()
        if text:
            assert _email_core(text, **options) == _email_full(text, **options)


class TestNormalizeDomain:
    def test_forms(self) -> None:
        """Scheme, www, port, path and e-mail local part go."""
        assert normalize_domain("HTTPS://www.Acme.io:443/x") == "acme.io"
        assert normalize_domain("ann@Sub.Acme.co.uk") == "sub.acme.co.uk"
        issues: list[FieldProblem] = []
        assert normalize_domain("intranet", issues=issues) is None
        assert issues[0].rule == "domain.domain"
