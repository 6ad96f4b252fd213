"""The vault: the key store, the codec that seals personal fields with it, and the access log.

The domain needs the vault's codec before anything else is built; the `Privacy` service
(forget, export, lookups) is built on the vault last, when the parts a forget must reach
(the aggregate registry, the projections) exist and can be passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from webapp.config import Settings
from webapp.privacy.access_log import AccessLog
from webapp.privacy.blind_index import BlindIndex
from webapp.privacy.codec import PersonalFields, PrivacyCodec, domain_personal_fields
from webapp.privacy.database import create_keystore_engine, default_keystore_url
from webapp.privacy.errors import PrivacyError
from webapp.privacy.key_wrap import has_key_check
from webapp.privacy.keystore import KeyStore
from webapp.privacy.master_key import MasterKey, load_master_key


@dataclass
class Vault:
    """Per-subject keys under the master key, the field codec, the blind index and the log."""

    keys: KeyStore
    codec: PrivacyCodec
    index: BlindIndex
    log: AccessLog
    master_key: MasterKey
    keystore_url: str

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        engine: Engine | None = None,
        personal_fields: PersonalFields = domain_personal_fields,
        cache_seconds: float = 60.0,
    ) -> Vault:
        """Open the key store (its tables must exist) and check the master key.

        `engine` is the key store's (default: one for `keystore_url_for(settings)`). A key
        store with no master key configured and none generated yet gets a generated key
        file at `settings.data_dir / "master.key"` (mode 0600): `vault.master_key.generated`
        tells the caller to say where it is. A wrong master key raises MasterKeyError.
        """
        url = keystore_url_for(settings)
        engine = engine if engine is not None else create_keystore_engine(url)
        try:
            try:
                initialised = has_key_check(engine)
            except DBAPIError:
                msg = "the key store has no privacy tables yet: run `eventscope db upgrade`"
                raise PrivacyError(msg) from None
            master = load_master_key(settings, generate=not initialised)
            keys = KeyStore(engine, master.key, cache_seconds=cache_seconds)
        except Exception:
            engine.dispose()
            raise
        index = BlindIndex(keys.index_key)
        return cls(
            keys=keys,
            codec=PrivacyCodec(keys, index, personal_fields),
            index=index,
            log=AccessLog(engine),
            master_key=master,
            keystore_url=url,
        )

    @property
    def engine(self) -> Engine:
        return self.keys.engine

    def close(self) -> None:
        """Write the queued access-log entries, drop cached keys and close the key store's
        connections."""
        self.log.close()
        self.keys.evict()
        self.engine.dispose()


def keystore_url_for(settings: Settings) -> str:
    """Where the key store lives: its own setting, else beside (SQLite) or inside the store."""
    return settings.keystore_url or default_keystore_url(settings.db_url)
