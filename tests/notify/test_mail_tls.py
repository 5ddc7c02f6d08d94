"""Owner email over TLS: STARTTLS (RFC 3207) and implicit TLS (RFC 8314) against aiosmtpd with a
throwaway CA, with a login that the server only accepts over TLS; a server the CA does not vouch for,
or one that does not offer STARTTLS, gets neither the password nor the mail."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

import pytest

from receptionist.notify.mailer import Mailer, is_transient_smtp
from sandbox import SmtpCapture
from tests.support.tls import make_tls_files

LOGIN = ("alerts@receptionist.example", "s3cret pass/word")


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp("mail-tls"))


def message(to: str = "owner@example.com") -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "receptionist@example.com", to, "New call"
    mail.set_content("A caller left a message.")
    return mail


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_mail_goes_over_tls_with_a_login(tls_files, mode):
    with SmtpCapture(tls=tls_files.server_context(), tls_mode=mode, login=LOGIN) as server:
        assert server.url.startswith("smtp+starttls://" if mode == "starttls" else "smtps://")
        Mailer(server.url, ca_file=str(tls_files.ca)).send(message())
        (received,) = server.wait_for(1)
        assert received.rcpt_tos == ("owner@example.com",) and received.subject == "New call"


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_an_unverified_server_gets_no_password_and_no_mail(tls_files, tmp_path, mode):
    stranger = make_tls_files(tmp_path).ca
    with SmtpCapture(tls=tls_files.server_context(), tls_mode=mode, login=LOGIN) as server:
        with pytest.raises(ssl.SSLCertVerificationError) as refused:
            Mailer(server.url, ca_file=str(stranger)).send(message())
        assert not is_transient_smtp(refused.value)  # a misconfiguration, not an outage: fail, visibly
        assert server.messages == []


def test_starttls_is_required_when_the_url_asks_for_it(tls_files):
    with SmtpCapture() as plain:  # a relay without STARTTLS
        url = plain.url.replace("smtp://", "smtp+starttls://")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            Mailer(url, ca_file=str(tls_files.ca)).send(message())
        assert plain.messages == []


def test_the_server_refuses_a_login_without_tls(tls_files):
    with SmtpCapture(tls=tls_files.server_context(), tls_mode="starttls", login=LOGIN) as server:
        url = server.url.replace("smtp+starttls://", "smtp://")
        with pytest.raises(smtplib.SMTPException):
            Mailer(url).send(message())
        assert server.messages == []
