"""`gigline serve | migrate | call | agents`: the hotline from a terminal."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

import aiohttp
from sqlalchemy.exc import IntegrityError

from basics.clock import utc_now
from console import accounts
from gigline.keys import SESSIONS
from gigline.logs import configure_logging, log_to_file
from gigline.runtime import (
    CannotListen,
    LocalCarrierRefused,
    RunningHotlineUnusable,
    run,
    running_hotline,
    start_hotline,
)
from gigline.settings import Settings, SettingsError
from gigline.workers import serve_workers
from market.jobs import MarketError
from store.db import DatabaseNotMigrated, ensure_migrated, make_engine, make_sessionmaker, upgrade
from store.statuses import Role

if TYPE_CHECKING:
    from local_carrier import LocalCarrier, PhoneLine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gigline", description="零工热线 Gigline")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="run the hotline (embedded default: SQLite, local carrier)")
    serve.add_argument("--workers", type=_positive, default=1, metavar="N",
                       help="answer in N processes on one port (PostgreSQL only; "
                       "default %(default)s)")
    commands.add_parser("migrate", help="upgrade the database to the latest migration")
    call = commands.add_parser("call", help="call the hotline from this terminal (local carrier)")
    call.add_argument("--from", dest="phone", default="+8613800000001",
                      help="the caller's phone number (default %(default)s)")
    _agents_commands(commands)
    args = parser.parse_args(argv)
    # The terminal phone's prompts are not to be broken up by log lines (see _call).
    configure_logging(logging.WARNING if args.command in ("call", "agents") else logging.INFO)
    try:
        settings = Settings.from_env(os.environ)
        runner = {"serve": _serve, "migrate": _migrate, "call": _call,
                  "agents": _agents}[args.command]
        return run(runner(settings, args))
    except (SettingsError, DatabaseNotMigrated, CannotListen, LocalCarrierRefused,
            RunningHotlineUnusable) as exc:
        print(f"gigline: {exc}", file=sys.stderr)
        return 2
    except MarketError as exc:  # an agents command refused: a name taken, unknown, …
        print(f"gigline: {exc.reason}", file=sys.stderr)
        return 2


def _agents_commands(commands) -> None:
    agents = commands.add_parser("agents", help="the staff who sign in to the console and API")
    verbs = agents.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", help="add an agent; their password is printed once")
    add.add_argument("name")
    add.add_argument("--role", choices=[role.value for role in Role], default=Role.AGENT)
    token = verbs.add_parser("token", help="a new API token for an agent, printed once")
    token.add_argument("name")
    revoke = verbs.add_parser(
        "revoke", help="NAME: disable the agent, revoke their tokens, end their sessions; "
        "TOKEN-ID: revoke that token")
    revoke.add_argument("name_or_token_id", metavar="NAME|TOKEN-ID")
    verbs.add_parser("list", help="the agents, their roles and live tokens")


def _positive(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1: {raw!r}")
    return int(raw)


def _announce(settings: Settings, carrier: LocalCarrier | None, workers: int = 1) -> None:
    url = settings.public_url
    processes = f"; {workers} processes" if workers > 1 else ""
    print(f"Gigline listening on {url} (webhooks under {url}/twilio/{processes})",
          flush=True)
    if carrier:
        print(f"Try the hotline in a browser (keypad, SMS, a worker's and an employer's "
              f"phone): {carrier.browser_phone_url}")
        print(f"Local carrier (Twilio stand-in) REST API on {carrier.rest_base} "
              f"(account {settings.account_sid}, auth token {settings.auth_token}); "
              "try a call with: gigline call")
        print(f"Every SMS it carries: {carrier.rest_base}/inbox", flush=True)


async def _serve(settings: Settings, args) -> int:
    if args.workers > 1:
        return await serve_workers(settings, args.workers, announce=lambda carrier: (
            _announce(settings, carrier, args.workers)))
    hotline = await start_hotline(settings)
    _announce(settings, hotline.carrier)
    if settings.embedded and "demo" in settings.api_tokens.values():
        token = next(t for t, agent in settings.api_tokens.items() if agent == "demo")
        print(f"API token for the agent 'demo': {token}")
    if settings.embedded:
        await _first_supervisor(hotline.app[SESSIONS], settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await hotline.close()
    return 0


FIRST_SUPERVISOR = "admin"
CLI = "cli"  # who the audit log says managed agents from this machine's command line


async def _first_supervisor(sessions, settings: Settings) -> None:
    """A fresh embedded install has no one to sign in to the console: make its first
    supervisor and print the password, once (it is kept only as a hash)."""
    password = accounts.new_password()
    try:
        async with sessions() as session, session.begin():
            if await accounts.any_agent(session):
                return
            await accounts.add_agent(session, FIRST_SUPERVISOR, Role.SUPERVISOR, password,
                                     now=utc_now(), by=CLI)
    except IntegrityError:  # another instance made them just now
        return
    print(f"Console: {settings.public_url}/console; supervisor '{FIRST_SUPERVISOR}', "
          f"password {password} (shown once; add agents with: gigline agents add NAME)")


async def _agents(settings: Settings, args) -> int:
    engine = make_engine(settings.database_url)
    try:
        if settings.embedded:
            await upgrade(engine)  # as `serve` would: the embedded default looks after itself
        else:
            await ensure_migrated(engine)
        async with make_sessionmaker(engine)() as session, session.begin():
            now = utc_now()
            if args.verb == "add":
                typed = _typed_password()
                password = typed or accounts.new_password()
                await accounts.add_agent(session, args.name, Role(args.role), password,
                                         now=now, by=CLI)
                print(f"{args.name.strip()} ({args.role}) added"
                      + ("" if typed else f"; password: {password} (shown once)"))
            elif args.verb == "token":
                agent = await accounts.agent_named(session, args.name)
                token_id, token = await accounts.issue_token(session, agent, now=now, by=CLI)
                print(f"token {token_id} for {args.name}: {token}\n(shown once; revoke it "
                      f"with: gigline agents revoke {token_id})")
            elif args.verb == "revoke":
                print(await accounts.revoke(session, args.name_or_token_id, now=now,
                                            by=CLI))
            else:
                for agent, tokens in await accounts.list_agents(session):
                    state = "revoked" if agent.disabled_at else "active"
                    print(f"{agent.name}\t{agent.role}\t{state}\t{tokens} token(s)\t"
                          f"since {agent.created_at:%Y-%m-%d}")
    finally:
        await engine.dispose()
    return 0


def _typed_password() -> str | None:
    """A password typed twice at a terminal; None (one is made up) for Enter alone, or
    when no one is at a terminal (scripts)."""
    if not sys.stdin.isatty():
        return None
    typed = getpass.getpass("password (Enter: make one up): ")
    if typed and getpass.getpass("again: ") != typed:
        raise MarketError("password", "passwords_differ")
    return typed or None


async def _migrate(settings: Settings, args) -> int:
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    print("database is at the latest migration")
    return 0


async def _call(settings: Settings, args) -> int:
    """Calls the hotline running at the configured address (`gigline serve`) through its
    local carrier; with none running, starts one in this process for the call."""
    from local_carrier import LocalLine

    if not settings.uses_local_carrier:
        print("gigline call uses the local carrier: unset the TWILIO_* settings", file=sys.stderr)
        return 2
    async with aiohttp.ClientSession() as http:
        line = await running_hotline(settings, http)
        if line is not None:
            print(f"Calling the hotline running on {settings.public_url}")
            await _terminal_call(line, args.phone)
            return 0
    log_file = settings.data_dir / "gigline-call.log"
    log_to_file(log_file)
    print(f"Starting the hotline for this call; its log goes to {log_file}")
    hotline = await start_hotline(settings)
    try:
        await _terminal_call(LocalLine(hotline.carrier), args.phone)
    finally:
        await hotline.close()
    return 0


async def _terminal_call(line: PhoneLine, phone: str) -> None:
    from local_carrier import run_terminal_call

    loop = asyncio.get_running_loop()

    async def read_line() -> str:
        typed = await loop.run_in_executor(None, sys.stdin.readline)
        if not typed:  # end of input: the caller hangs up
            return "h"
        return typed

    # linger: the SMS a registration sends arrive just after the caller hangs up.
    await run_terminal_call(line, phone, read_line=read_line,
                            write=lambda text: print(text, flush=True), linger=1.0)


if __name__ == "__main__":
    sys.exit(main())
