"""Passkeys for the admin API tests. A passkey comes into being only through a WebAuthn
ceremony in a browser (the browser tests make real ones); the API tests write the row a
registration leaves into the server's SQLite database instead, so that the operators'
API is tested on its own. The credential holds SECRET, which no answer may show.
"""

import sqlite3
import time
import uuid

SECRET = "PUBLIC-KEY-MATERIAL"


def add_passkey(server, tenant, login_id, name, *, used=False, backed_up=False):
    """Writes a passkey row as a registration would; returns its ID."""
    db = sqlite3.connect(server.data / "mamori.db", timeout=30)
    try:
        row = db.execute(
            "SELECT u.id, u.tenant_id FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE t.slug = ? AND u.login_id = ?",
            (tenant, login_id),
        ).fetchone()
        assert row, (tenant, login_id)
        user_id, tenant_id = row
        # The ID column has the users table's UUID encoding (text or 16 bytes).
        new_id = uuid.uuid4()
        stored_id = str(new_id) if isinstance(user_id, str) else new_id.bytes
        now = int(time.time() * 1000)
        db.execute(
            "INSERT INTO passkeys (id, tenant_id, user_id, credential_id, credential, name, sign_count, backup_eligible, backed_up, created_at, last_used_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (stored_id, tenant_id, user_id, f"cred-{new_id.hex}", f'{{"cred":{{"key":"{SECRET}"}}}}', name, 5 if used else 0, True, backed_up, now, now if used else None),
        )
        db.commit()
    finally:
        db.close()
    time.sleep(0.01)  # distinct creation times: the list is oldest first
    return str(new_id)
