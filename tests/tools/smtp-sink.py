#!/usr/bin/python3
"""smtp-sink.py - SMTP relay sink for tests (aiosmtpd), loopback only.

usage: smtp-sink.py --maildir D [--port P] [--host H]
                    [--tls-cert PEM --tls-key PEM [--require-starttls]]
                    [--auth [--auth-user U] [--auth-password P]]
                    [--fail-first N]

  --maildir D          accepted messages are saved here (created if missing)
  --port P             TCP port; 0 (the default) picks a free one
  --host H             127.0.0.1 (default) or ::1; only loopback allowed
  --tls-cert/--tls-key offer STARTTLS with this certificate and key
  --require-starttls   refuse everything but EHLO, NOOP, STARTTLS and QUIT
                       before STARTTLS with
                       "530 Must issue a STARTTLS command first"
  --auth               require AUTH (PLAIN or LOGIN) before MAIL; AUTH is
                       only offered after STARTTLS, so --auth needs
                       --tls-cert. Accepts only --auth-user (default
                       "tlsrpt") with --auth-password (default "secret").
                       MAIL without AUTH: "530 5.7.0 Authentication
                       required"; bad password: "535 5.7.8 Authentication
                       credentials invalid"
  --fail-first N       answer the first N messages after DATA with
                       "451 4.3.0 Temporary failure" (nothing saved), for
                       retry tests

Prints "listening PORT" on stdout once it accepts connections, then one
line per accepted message: "NNNNNN from=<a@x> to=<b@y>[,<c@z>] tls=yes|no
auth=USER|- size=N", "tempfail from=..." for --fail-first refusals, and
"auth-failed user=U" for a refused AUTH. Flushed after each line. Runs
until killed.

Each accepted message is saved in D as NNNNNN.eml (the message bytes as
received after SMTP dot-unstuffing, line endings untouched) and
NNNNNN.envelope.json:
  {"seq": n, "mail_from": "a@x", "rcpt_tos": ["b@y"], "mail_options": [...],
   "rcpt_options": [...], "helo": "...", "tls": true, "auth_user": "tlsrpt"
   or null, "peer": "127.0.0.1", "size": n}
NNNNNN counts from 000001. Both files are written atomically (temporary
dot-file, then rename), .eml first and .envelope.json last, before the
"250" reply to DATA: once the client is done, both files exist.
(D is a plain directory, not a Maildir with new/cur/tmp.)
"""
import argparse
import asyncio
import ipaddress
import json
import os
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Authenticator:
    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if (isinstance(auth_data, LoginPassword)
                and auth_data.login == self.user
                and auth_data.password == self.password):
            return AuthResult(success=True, auth_data=self.user.decode())
        login = getattr(auth_data, "login", b"?").decode(errors="replace")
        say(f"auth-failed user={login}")
        return AuthResult(success=False, handled=False)


class Handler:
    def __init__(self, maildir, fail_first):
        self.maildir = maildir
        self.fail_left = fail_first
        self.seq = 0

    async def handle_DATA(self, server, session, envelope):
        rcpts = ",".join(f"<{r}>" for r in envelope.rcpt_tos)
        if self.fail_left > 0:
            self.fail_left -= 1
            say(f"tempfail from=<{envelope.mail_from}> to={rcpts}")
            return "451 4.3.0 Temporary failure (smtp-sink --fail-first)"
        self.seq += 1
        name = f"{self.seq:06d}"
        content = envelope.content
        tls = session.ssl is not None
        user = session.auth_data if session.authenticated else None
        meta = {"seq": self.seq, "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "mail_options": envelope.mail_options,
                "rcpt_options": envelope.rcpt_options,
                "helo": session.host_name, "tls": tls, "auth_user": user,
                "peer": session.peer[0], "size": len(content)}
        for suffix, data in ((".eml", content),
                             (".envelope.json",
                              (json.dumps(meta, indent=1) + "\n").encode())):
            tmp = os.path.join(self.maildir, f".{name}{suffix}.tmp")
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, os.path.join(self.maildir, name + suffix))
        say(f"{name} from=<{envelope.mail_from}> to={rcpts} "
            f"tls={'yes' if tls else 'no'} auth={user or '-'} size={len(content)}")
        return f"250 2.0.0 Ok: queued as {name}"


async def serve(args):
    loop = asyncio.get_running_loop()
    ctx = None
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    handler = Handler(args.maildir, args.fail_first)
    kw = {}
    if args.auth:
        kw = {"auth_required": True, "auth_require_tls": True,
              "authenticator": Authenticator(args.auth_user, args.auth_password)}

    def factory():
        # hostname given: SMTP() would otherwise look up the host's FQDN.
        return SMTP(handler, hostname="localhost", tls_context=ctx,
                    require_starttls=args.require_starttls, loop=loop, **kw)

    server = await loop.create_server(factory, host=args.host, port=args.port)
    say(f"listening {server.sockets[0].getsockname()[1]}")
    async with server:
        await server.serve_forever()


def main():
    p = argparse.ArgumentParser(description="SMTP sink for tests")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--maildir", required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--auth", action="store_true")
    p.add_argument("--auth-user", default="tlsrpt")
    p.add_argument("--auth-password", default="secret")
    p.add_argument("--fail-first", type=int, default=0)
    args = p.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.require_starttls and not args.tls_cert:
        p.error("--require-starttls needs --tls-cert/--tls-key")
    if args.auth and not args.tls_cert:
        p.error("--auth needs --tls-cert/--tls-key (AUTH only after STARTTLS)")
    if not ipaddress.ip_address(args.host).is_loopback:
        p.error(f"{args.host} is not a loopback address")
    os.makedirs(args.maildir, exist_ok=True)
    # aiosmtpd itself sets the deprecated Session.login_data after AUTH.
    warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
