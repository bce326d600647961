"""An aiosmtpd handler that keeps mail in a maildir, as
aiosmtpd.handlers.Mailbox does, but refuses for good (550) every
recipient whose local part starts with "nobody": a mailbox that does not
exist, as a real server answers it."""

from aiosmtpd.handlers import Mailbox


class Refusing(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@", 1)[0].lower().startswith("nobody"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"
