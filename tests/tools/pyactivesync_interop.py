#!/usr/bin/env python3
"""Interop run of a third-party EAS client (pyactivesync 0.17.0) against an easbox server.

Steps: Provision (both phases), FolderSync 0, Sync of the Contacts folder (key 0, then the
key it gives), Add of a contact, Change of it, Delete of it. Every step is printed; the exit
status is 0 only if every step's status was OK (1), else 1; 2 for bad arguments.

pyactivesync quirks handled here (EAS-NOTES §5): it speaks only 16.1, builds the URL as
``https://{server}/Microsoft-Server-ActiveSync`` (so ``--plain`` or any other port means
overwriting ``client._transport.base_url``), does not handle HTTP 449 or Status 142, and with
``verify_ssl=False`` still honours ``REQUESTS_CA_BUNDLE`` unless ``session.trust_env`` is off.

Usage:
  pyactivesync_interop.py HOST:PORT USER PASSWORD (--ca FILE | --insecure | --plain)
                          [--device-id ID] [--timeout SECONDS] [--check-args]
"""
from __future__ import annotations

import argparse
import sys
import uuid

# The status pyactivesync reports when a per-item response carries none (or "1").
OK = "1"
# FolderHierarchy:Type of the default Contacts folder ([MS-ASCMD] 2.2.3.186.3).
CONTACTS_TYPE = 9


class StepFailed(Exception):
    pass


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("server", help="HOST:PORT of the easbox server")
    p.add_argument("user")
    p.add_argument("password")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--ca", metavar="FILE", help="PEM CA certificate to verify the server with")
    mode.add_argument("--insecure", action="store_true", help="https without verifying the server")
    mode.add_argument("--plain", action="store_true", help="plain http (test servers only)")
    p.add_argument("--device-id", default=None, help="DeviceId (default: a random one)")
    p.add_argument("--device-type", default="pyactivesync")
    p.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout in seconds")
    p.add_argument(
        "--check-args",
        action="store_true",
        help="parse the arguments, build the client, print the URL and exit (no network)",
    )
    args = p.parse_args(argv)
    host, sep, port = args.server.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        p.error(f"server must be HOST:PORT, not {args.server!r}")
    if args.device_id is None:
        # DeviceId: letters and digits only, at most 32 characters for every client family.
        args.device_id = "py" + uuid.uuid4().hex[:20]
    return args


def make_client(args: argparse.Namespace):
    import pyactivesync

    client = pyactivesync.Client(
        args.server,
        args.user,
        args.password,
        device_id=args.device_id,
        device_type=args.device_type,
        verify_ssl=not args.insecure,
        timeout=args.timeout,
    )
    transport = client._transport
    # REQUESTS_CA_BUNDLE and proxy variables from the environment must not decide anything.
    transport.session.trust_env = False
    scheme = "http" if args.plain else "https"
    transport.base_url = f"{scheme}://{args.server}/Microsoft-Server-ActiveSync"
    if args.ca:
        transport.session.verify = args.ca
    elif args.insecure:
        transport.session.verify = False
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return client


def step(name: str, fn):
    """Runs one step, printing its outcome; raises StepFailed on any error."""
    try:
        result = fn()
    except Exception as e:  # noqa: BLE001 -- every failure of a step is reported the same way
        print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        raise StepFailed(name) from e
    return result


def ok(name: str, detail: str) -> None:
    print(f"ok   {name}: {detail}", flush=True)


def require(name: str, cond: bool, detail: str) -> None:
    if not cond:
        print(f"FAIL {name}: {detail}", flush=True)
        raise StepFailed(name)


def run(args: argparse.Namespace) -> int:
    from pyactivesync import Contact, ContactChange

    client = make_client(args)
    with client:
        key = step("Provision", client.provision)
        require("Provision", bool(key) and key != "0", f"no usable PolicyKey ({key!r})")
        ok("Provision", f"PolicyKey {key}")

        folders = step("FolderSync 0", client.list_folders)
        require("FolderSync 0", bool(folders), "no folders")
        # pyactivesync's FolderType names are off by one from MS-ASCMD above 11: print numbers.
        ok("FolderSync 0", ", ".join(f"{f.id}:{int(f.type)}:{f.name}" for f in folders))
        contacts = [f for f in folders if int(f.type) == CONTACTS_TYPE]
        require("FolderSync 0", len(contacts) == 1, f"{len(contacts)} Contacts folders")
        cid = contacts[0].id

        r = step("Sync 0", lambda: client.sync_folder(cid, "0"))
        require("Sync 0", r.sync_key not in ("", "0"), f"SyncKey {r.sync_key!r}")
        ok("Sync 0", f"SyncKey {r.sync_key}")

        r = step("Sync", lambda: client.sync_folder(cid, r.sync_key))
        require("Sync", bool(r.sync_key), "no SyncKey")
        ok("Sync", f"SyncKey {r.sync_key}, {len(r.added)} added, more {r.more_available}")
        sync_key = r.sync_key

        marker = uuid.uuid4().hex[:8]
        contact = Contact(
            first_name="Interop",
            last_name=f"Test {marker}",
            email1_address=f"interop.{marker}@example.com",
            mobile_phone_number="+39 333 000 0000",
        )
        added = step("Add", lambda: client.create_contact(cid, sync_key, contact))
        require("Add", added.status == OK, f"Status {added.status}")
        require("Add", bool(added.server_id), "no ServerId")
        ok("Add", f"ServerId {added.server_id}, SyncKey {added.sync_key}")
        sync_key = added.sync_key

        changed_contact = Contact(
            first_name="Interop",
            last_name=f"Test {marker}",
            email1_address=f"interop.{marker}@example.com",
            mobile_phone_number="+39 333 000 0000",
            job_title="Changed",
        )
        change = ContactChange(server_id=added.server_id, contact=changed_contact)
        res = step("Change", lambda: client.apply_contact_changes(cid, sync_key, [change]))
        status = res.statuses.get(added.server_id)
        require("Change", status == OK, f"Status {status}")
        ok("Change", f"SyncKey {res.sync_key}")
        sync_key = res.sync_key

        delete = ContactChange(server_id=added.server_id, delete=True)
        res = step(
            "Delete",
            lambda: client.apply_contact_changes(cid, sync_key, [delete], deletes_as_moves=False),
        )
        status = res.statuses.get(added.server_id)
        require("Delete", status == OK, f"Status {status}")
        ok("Delete", f"SyncKey {res.sync_key}")
    print("all steps OK", flush=True)
    return 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.check_args:
        client = make_client(args)
        t = client._transport
        print(f"url {t.base_url} verify {t.session.verify!r} trust_env {t.session.trust_env}")
        client.close()
        return 0
    try:
        return run(args)
    except StepFailed:
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
