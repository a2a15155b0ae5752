"""Helpers that build ``requests`` sessions for :class:`dicomfs.DICOMwebClient`.

A bearer token needs no session: pass ``headers={"Authorization": "Bearer TOKEN"}`` to the client.

>>> session = create_session_from_user_pass("user", "secret")
>>> session.auth
('user', 'secret')
"""

from __future__ import annotations

import logging
import os

import requests
import requests.auth

__all__ = [
    "add_certs_to_session",
    "create_session",
    "create_session_from_auth",
    "create_session_from_user_pass",
]

logger = logging.getLogger(__name__)


def create_session() -> requests.Session:
    """Create a session without authentication.

    Returns
    -------
    requests.Session
        A new session.
    """
    return requests.Session()


def create_session_from_auth(auth: requests.auth.AuthBase) -> requests.Session:
    """Create a session that authenticates with ``auth``.

    Parameters
    ----------
    auth: requests.auth.AuthBase
        Any ``requests`` authentication (``HTTPBasicAuth``, ``HTTPDigestAuth``, a custom one).

    Returns
    -------
    requests.Session
        A new session with ``auth`` set.
    """
    if not isinstance(auth, requests.auth.AuthBase):
        raise TypeError("auth must be a requests.auth.AuthBase")
    session = requests.Session()
    session.auth = auth
    return session


def create_session_from_user_pass(username: str, password: str) -> requests.Session:
    """Create a session that uses HTTP basic authentication.

    Parameters
    ----------
    username: str
        User name.
    password: str
        Password.

    Returns
    -------
    requests.Session
        A new session with ``auth = (username, password)``.
    """
    if not isinstance(username, str) or not isinstance(password, str):
        raise TypeError("username and password must be strings")
    session = requests.Session()
    session.auth = (username, password)
    return session


def _existing_file(path: str, what: str) -> str:
    resolved = os.path.expanduser(os.path.expandvars(path))
    if not os.path.exists(resolved):
        raise OSError(f"{what} file does not exist: {resolved}")
    return resolved


def add_certs_to_session(
    session: requests.Session, ca_bundle: str | None = None, cert: str | None = None
) -> requests.Session:
    """Make ``session`` verify servers with ``ca_bundle`` and present the client ``cert``.

    Parameters
    ----------
    session: requests.Session
        The session to change (it is returned too).
    ca_bundle: str, optional
        Path of a CA bundle (PEM) used to verify the server.
    cert: str, optional
        Path of a client certificate (PEM, with its key).

    Returns
    -------
    requests.Session
        ``session``.

    Raises
    ------
    OSError
        A file does not exist.
    """
    if ca_bundle is not None:
        session.verify = _existing_file(ca_bundle, "CA bundle")
        logger.debug("CA bundle: %s", session.verify)
    if cert is not None:
        session.cert = _existing_file(cert, "Certificate")
        logger.debug("client certificate: %s", session.cert)
    return session
