"""Configuration from the environment.

Every domain rule that DOMAIN.md marks *configurable* lives here with its default, so an
operator changes it with an environment variable rather than a code edit.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _database_url(instance_path: Path) -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{instance_path / 'qibiao.sqlite3'}"
    # Accept the common postgres:// spelling and make psycopg 3 the driver.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def load(instance_path: Path, overrides: dict | None = None) -> dict:
    """Build the Flask config dict; ``overrides`` (tests) win over the environment."""
    instance_path.mkdir(parents=True, exist_ok=True)
    secret = os.environ.get("SECRET_KEY") or _instance_secret(instance_path)
    cfg = {
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": os.environ.get("REDIS_URL", "").strip() or None,
        "UPLOAD_DIR": os.environ.get("UPLOAD_DIR") or str(instance_path / "uploads"),
        # E-mail (core.mail): SMTP when MAIL_URL is set, else files in MAIL_FOLDER.
        "MAIL_URL": os.environ.get("MAIL_URL", "").strip() or None,
        "MAIL_FOLDER": os.environ.get("MAIL_FOLDER") or str(instance_path / "mail"),
        "MAIL_FROM": os.environ.get("MAIL_FROM") or "企业标准信息公共服务 <noreply@localhost>",
        # The daily open-data releases (declare.opendata): one immutable folder per day.
        "OPEN_DATA_DIR": os.environ.get("OPEN_DATA_DIR") or str(instance_path / "opendata"),
        # A font file with Chinese glyphs for PNG labels (declare.labels); PDFs need none.
        "LABEL_FONT": os.environ.get("LABEL_FONT") or None,
        "MAX_UPLOAD_BYTES": _int("MAX_UPLOAD_BYTES", 20 * 1024 * 1024),
        # What reading the text of one standard PDF may cost (declare.uploads.text_budget):
        # a file over pages/bytes/tokens is refused at upload; the flags job extracts within
        # seconds/memory and flags a text it could not read for review (text_unchecked).
        "PDF_TEXT_BUDGET": {
            "pages": _int("PDF_TEXT_MAX_PAGES", 2000),
            "content_bytes": _int("PDF_TEXT_MAX_CONTENT_BYTES", 48 * 1024 * 1024),
            "content_tokens": _int("PDF_TEXT_MAX_CONTENT_TOKENS", 3_000_000),
            "seconds": _int("PDF_TEXT_SECONDS", 60),
            "memory_mb": _int("PDF_TEXT_MEMORY_MB", 1024),
        },
        "BABEL_DEFAULT_LOCALE": os.environ.get("DEFAULT_LOCALE", "zh"),
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("DEFAULT_TIMEZONE", "Asia/Shanghai"),
        "LANGUAGES": ["zh", "en"],
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        # Accounts (core.accounts): this many wrong passwords in a row lock an account for
        # LOGIN_LOCK_MINUTES (page and token API alike; an admin may unlock it sooner); a
        # password-reset link lives PASSWORD_RESET_MAX_AGE seconds and works once.
        "LOGIN_LOCK_THRESHOLD": _int("LOGIN_LOCK_THRESHOLD", 10),
        "LOGIN_LOCK_MINUTES": _int("LOGIN_LOCK_MINUTES", 15),
        "PASSWORD_RESET_MAX_AGE": _int("PASSWORD_RESET_MAX_AGE", 3600),
        # Reset-mail requests per client address (the form mails whoever's address is typed).
        "PASSWORD_RESET_RATE_LIMIT": os.environ.get("PASSWORD_RESET_RATE_LIMIT", "5 per minute"),
        "OBJECTION_RATE_LIMIT": os.environ.get("OBJECTION_RATE_LIMIT", "5 per minute"),
        # Full exports of the public search (pages and API), per client address.
        "EXPORT_RATE_LIMIT": os.environ.get("EXPORT_RATE_LIMIT", "30 per hour"),
        # Public complaints (举报), per client address, on the page and the API.
        "COMPLAINT_RATE_LIMIT": os.environ.get("COMPLAINT_RATE_LIMIT", "5 per minute;30 per day"),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI")
        or os.environ.get("REDIS_URL")
        or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Redis down: count in this process's memory meanwhile (the same limits, per process)
        # rather than fail the request or stop limiting; Flask-Limiter goes back to Redis when
        # it answers. A dead Redis host must not hold a request for long.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Served over HTTPS (behind a TLS proxy that sets X-Forwarded-Proto): plain HTTP is
        # redirected, HSTS is sent (HSTS_SECONDS) and the session and remember-me cookies are
        # Secure (core.security). Off by default, so `make run` works on http://127.0.0.1.
        "FORCE_HTTPS": _flag("FORCE_HTTPS"),
        "HSTS_SECONDS": _int("HSTS_SECONDS", 365 * 24 * 3600),
        "SESSION_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE") or _flag("FORCE_HTTPS"),
        "REMEMBER_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE") or _flag("FORCE_HTTPS"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        # Domain settings (configurable per DOMAIN.md).
        "REVIEW_REMINDER_YEARS": _int("REVIEW_REMINDER_YEARS", 3),
        # Days to rectify after 不符合 when the sampling plan sets none (complaint checks).
        "RECTIFICATION_DAYS": _int("RECTIFICATION_DAYS", 30),
        "API_TOKEN_DAYS": _int("API_TOKEN_DAYS", 90),
        "JOB_RETRY_INTERVALS": [
            int(x) for x in os.environ.get("JOB_RETRY_INTERVALS", "5,30,120").split(",") if x.strip()
        ],
        # Job recovery (core.workers): a busy worker renews its job's heartbeat every
        # JOB_HEARTBEAT_SECONDS; without one for JOB_DEAD_AFTER_SECONDS the worker counts as
        # dead and its job is re-queued; idle workers do that check and the outbox flush every
        # JOB_MAINTENANCE_SECONDS, re-sending pending jobs older than JOB_FLUSH_AFTER_SECONDS.
        "JOB_HEARTBEAT_SECONDS": _int("JOB_HEARTBEAT_SECONDS", 5),
        "JOB_DEAD_AFTER_SECONDS": _int("JOB_DEAD_AFTER_SECONDS", 15),
        "JOB_MAINTENANCE_SECONDS": _int("JOB_MAINTENANCE_SECONDS", 10),
        "JOB_FLUSH_AFTER_SECONDS": _int("JOB_FLUSH_AFTER_SECONDS", 15),
        # Which queue a worker on several queues serves next (core.workers): "round_robin"
        # (after a job from one queue the others come first: no queue starves), "random", or
        # RQ's "default" (strict priority in the order given: the first queue starves the rest).
        "WORKER_DEQUEUE_STRATEGY": os.environ.get("WORKER_DEQUEUE_STRATEGY", "").strip()
        or "round_robin",
        # A failing database or Redis answers 503 with this Retry-After (seconds).
        "UNAVAILABLE_RETRY_AFTER": _int("UNAVAILABLE_RETRY_AFTER", 10),
        "PAGE_SIZE": _int("PAGE_SIZE", 20),
        # The longest lists one declaration draft may have (declare.operations refuses more
        # with a field error, before any work per row): products, indicators, and normative
        # references (cited catalogue standards).
        "DRAFT_MAX_PRODUCTS": _int("DRAFT_MAX_PRODUCTS", 200),
        "DRAFT_MAX_INDICATORS": _int("DRAFT_MAX_INDICATORS", 500),
        "DRAFT_MAX_REFERENCES": _int("DRAFT_MAX_REFERENCES", 100),
        # Public pages built from immutable data (core.page_cache): a rendered body is kept
        # this many seconds (the ETag changes with the data, so this only bounds memory).
        # Browsers and shared caches revalidate every page that may still change (max-age 0:
        # a 304 costs one small query), so a removed leader or an abolished declaration is
        # never shown from a cache: the current leaderboard of a plan (the pointer moves to a
        # new list version at any time), a run's own page (公示 -> published -> superseded),
        # a declaration's page. Only a superseded or discarded run never changes again.
        "PAGE_CACHE_SECONDS": _int("PAGE_CACHE_SECONDS", 24 * 3600),
        "PAGE_CACHE_VERSION": os.environ.get("PAGE_CACHE_VERSION", ""),  # "" = hash of the code
        "LEADERBOARD_MAX_AGE": _int("LEADERBOARD_MAX_AGE", 0),
        "RUN_PAGE_MAX_AGE": _int("RUN_PAGE_MAX_AGE", 0),
        "FINAL_RUN_MAX_AGE": _int("FINAL_RUN_MAX_AGE", 24 * 3600),
        "DECLARATION_MAX_AGE": _int("DECLARATION_MAX_AGE", 0),
        "LEADERBOARDS_PER_PAGE": _int("LEADERBOARDS_PER_PAGE", 50),
        # 领跑者 publicity (公示): the shortest period a list is publicised before publication.
        "PUBLICITY_DAYS": _int("PUBLICITY_DAYS", 10),
        # 领跑者 previews: a burst of declaration changes within this many seconds makes one
        # regeneration job per plan (the job waits this long in RQ before it starts).
        "RANKING_DEBOUNCE_SECONDS": float(os.environ.get("RANKING_DEBOUNCE_SECONDS") or 2),
        # Risk flags after publications (supervision.flags.request_recompute): the ids of a
        # burst join one job per window of this many seconds (leading edge: the first at once).
        "SUPERVISION_FLAGS_DEBOUNCE_SECONDS": float(
            os.environ.get("SUPERVISION_FLAGS_DEBOUNCE_SECONDS") or 2
        ),
        # Password hashes of new passwords (core.models): scrypt; the drills' quick run, whose
        # throw-away stack logs ~80 times in, sets a cheap one (as the tests do).
        "PASSWORD_HASH_METHOD": os.environ.get("PASSWORD_HASH_METHOD") or "scrypt",
        # Old previews are pruned by a job this many seconds after the change (debounced).
        "RANKING_PRUNE_DELAY_SECONDS": float(os.environ.get("RANKING_PRUNE_DELAY_SECONDS") or 30),
        # Spot checks (双随机): floor of a plan's minimum sample ratio, years an enterprise drawn
        # at random is excluded, abuse limit of the public redo.
        "SAMPLING_MIN_RATIO": float(os.environ.get("SAMPLING_MIN_RATIO") or 0.05),
        "SAMPLING_EXCLUDE_YEARS": _int("SAMPLING_EXCLUDE_YEARS", 3),
        "SAMPLING_REDO_RATE_LIMIT": os.environ.get("SAMPLING_REDO_RATE_LIMIT", "10 per minute"),
        # Risk flags: supervision.flags.risk.RiskConfig fields (empty = defaults) and copy detection.
        "SUPERVISION_RISK": {},
        "SUPERVISION_SIMILARITY": {
            "threshold": float(os.environ.get("SIMILARITY_THRESHOLD") or 0.85),
            "min_table_shingles": _int("SIMILARITY_MIN_TABLE_SHINGLES", 60),
            "min_text_shingles": _int("SIMILARITY_MIN_TEXT_SHINGLES", 200),
            "max_text_pages": _int("SIMILARITY_MAX_TEXT_PAGES", 200),
        },
        # Copy detection (supervision.flags.copying.DEFAULTS keys; empty = defaults).
        "SUPERVISION_COPYING": {},
        # flask-smorest / OpenAPI
        "API_TITLE": "企业标准信息公共服务 API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
        "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": "none"},
        "API_SPEC_OPTIONS": {
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
            },
            "security": [{"bearer": []}],
        },
    }
    cfg.update(overrides or {})
    if cfg["FORCE_HTTPS"]:  # an override (tests) turns the cookies Secure too
        cfg["SESSION_COOKIE_SECURE"] = cfg["REMEMBER_COOKIE_SECURE"] = True
    # A request may carry the PDF plus the form fields around it.
    cfg.setdefault("MAX_CONTENT_LENGTH", cfg["MAX_UPLOAD_BYTES"] + 1024 * 1024)
    _page_cache_store(cfg)
    return cfg


def _page_cache_store(cfg: dict) -> None:
    """Where rendered public pages are kept (Flask-Caching). With Redis (every gunicorn
    deployment has it for the jobs) the workers share one store; without it (the embedded
    SQLite default, one ``flask run`` process) an in-process SimpleCache. ``CACHE_TYPE`` (e.g.
    ``FileSystemCache`` with ``CACHE_DIR``, or ``NullCache``) overrides. Chosen after the
    overrides, so a test app without Redis never writes into a shared store."""
    redis_url = cfg.get("REDIS_URL")
    cfg.setdefault(
        "CACHE_TYPE", os.environ.get("CACHE_TYPE") or ("RedisCache" if redis_url else "SimpleCache")
    )
    cfg.setdefault("CACHE_REDIS_URL", os.environ.get("CACHE_REDIS_URL") or redis_url)
    cfg.setdefault("CACHE_DIR", os.environ.get("CACHE_DIR") or None)
    cfg.setdefault("CACHE_KEY_PREFIX", "qibiao:page:")
    cfg.setdefault("CACHE_DEFAULT_TIMEOUT", cfg["PAGE_CACHE_SECONDS"])
    cfg.setdefault("CACHE_THRESHOLD", _int("CACHE_THRESHOLD", 500))  # SimpleCache/FileSystem


def _instance_secret(instance_path: Path) -> str:
    """A per-installation secret kept outside the repository, created on first start."""
    path = instance_path / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
