"""The dashboard: server-rendered pages for owners and members (and admins, who pick an account).

Authorisation is the API's own: the session resolves to the same `Principal` a bearer token would,
and pages load accounts and calls through `load_account`/`load_call`, so another account's call is
a 404 here exactly as it is in the API. Account edits go through `AccountUpdate` and
`accounts.update_account`; reads of transcripts and recordings are audited as in the API.
"""

from __future__ import annotations

import logging
import re
import secrets
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from urllib.parse import quote, urlencode
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from receptionist.accounts import auth, blocklist, team, webhooks
from receptionist.core.queue import QueueUnavailable
from receptionist.webhooks import endpoints as webhook_endpoints
from receptionist.webhooks.events import EVENTS as WEBHOOK_EVENTS
from receptionist.accounts import service as accounts
from receptionist.accounts.access import load_account, load_call
from receptionist.accounts.auth import ENV_ADMIN, Principal
from receptionist.accounts.schemas import DAYS, UserCreate
from receptionist.calls import handling, listing, screening
from receptionist.calls.listing import CallQuery
from receptionist.core import audit, phone
from receptionist.core.phone import shown as phone_shown
from receptionist.core.queue import JOB_RETRY
from receptionist.core.errors import Conflict, DomainError, Invalid, NotFound, Unauthenticated
from receptionist.core.models import Account, Call, Recording, User, utcnow
from receptionist.dashboard.forms import SECTIONS, AccountForm, form_values, parse_account_form
from receptionist.dashboard.pages import (
    CSS_PATH,
    PageRoute,
    SignInRequired,
    local_time,
    message,
    render,
)
from receptionist.dashboard.sessions import (
    ADMIN_TOKEN_SUBJECT,
    COOKIE_NAME,
    SessionCodec,
    SessionData,
    derive_key,
)
from receptionist.storage.objects import PRESIGNED_TTL_S
from receptionist.web.deps import services, session
from receptionist.web.errors import ApiError, as_api_error
from receptionist.web.services import AppServices

log = logging.getLogger(__name__)

ENDED_KEY = "receptionist:dashboard:signed-out:{}"
SAFE_NEXT = re.compile(r"^/(?![/\\])[A-Za-z0-9/_\-.~%]*$")
TOKEN_VALIDITY_DAYS = (30, 90, 365)  # the team form's choices; empty means the token never expires
NOTICES = {"signed-out": "signed_out", "expired": "expired", "closed": "closed"}  # ?notice= → message


def build_codec(app: FastAPI) -> SessionCodec:
    secret = app.state.services.settings.session_secret
    if not secret:
        log.warning("RECEPTIONIST_SESSION_SECRET is not set: dashboard sessions use a random key, so they "
                    "end when this process restarts and do not work across several server processes")
    return SessionCodec(derive_key(secret or secrets.token_bytes(32)))


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.dashboard_sessions = build_codec(app)
    yield


router = APIRouter(include_in_schema=False, route_class=PageRoute, lifespan=lifespan)


def codec_of(request: Request) -> SessionCodec:
    state = request.app.state
    if not hasattr(state, "dashboard_sessions"):  # an app served without its lifespan
        state.dashboard_sessions = build_codec(request.app)
    return state.dashboard_sessions


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the dashboard, and at which account."""

    principal: Principal
    session: SessionData
    csrf: str
    name: str
    account: Account | None  # the user's account, or the one an admin picked

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin

    @property
    def can_edit(self) -> bool:
        return self.principal.role in ("admin", "owner")


def set_session(response: Response, request: Request, data: SessionData) -> None:
    svc: AppServices = request.app.state.services
    response.set_cookie(COOKIE_NAME, codec_of(request).dumps(data), max_age=codec_of(request).max_age_s, path="/",
                        httponly=True, samesite="lax", secure=svc.settings.public_url.startswith("https://"))


def resolve_viewer(request: Request, db: Session, svc: AppServices) -> Viewer:
    """The signed-in viewer, checked against the database on every request."""
    codec = codec_of(request)
    cookie = request.cookies.get(COOKIE_NAME)
    data = codec.loads(cookie)
    next_path = request.url.path if request.method == "GET" and request.url.path != "/" else None
    if data is None or not data.signed_in:
        raise SignInRequired(next_path, forget=cookie is not None and data is None,
                             notice="expired" if cookie is not None and data is None else None)
    if svc.queue.redis.exists(ENDED_KEY.format(data.nonce)):  # signed out: a copied cookie is dead too
        raise SignInRequired(next_path, forget=True, notice="expired")
    if data.subject == ADMIN_TOKEN_SUBJECT:
        admin_token = svc.settings.admin_token
        if not admin_token or not codec.matches(data, admin_token):
            raise SignInRequired(next_path, forget=True, notice="expired")
        principal, name = ENV_ADMIN, "Administrator"
    else:
        user = db.get(User, data.user_id) if data.user_id else None
        if user is None or not codec.matches(data, user.token_hash):  # deleted, or its token replaced
            raise SignInRequired(next_path, forget=True, notice="expired")
        principal, name = auth.user_principal(user), user.email
    account_id = principal.account_id or data.account_id
    account = db.get(Account, account_id) if account_id else None
    if not principal.is_admin:
        # The API's own refusal (auth.refusal): a closed account's or an expired token's session ends.
        refused = auth.refusal(user, account.status if account is not None else None)
        if refused:
            raise SignInRequired(forget=True, notice="closed" if refused == auth.ACCOUNT_CLOSED else "expired")
    viewer = Viewer(principal, data, codec.csrf_token(data), name, account)
    request.state.viewer = viewer
    return viewer


def current_viewer(request: Request, db: Session = Depends(session), svc: AppServices = Depends(services)) -> Viewer:
    return resolve_viewer(request, db, svc)


async def posted_form(request: Request) -> FormData:
    return await request.form()


def checked_form(request: Request, form: FormData = Depends(posted_form),
                 viewer: Viewer = Depends(current_viewer)) -> FormData:
    """The posted form, once its CSRF token is the one bound to this session (403 otherwise)."""
    if not codec_of(request).check_csrf(viewer.session, _text(form, "csrf")):
        raise ApiError(403, message(request, "form_expired"))
    return form


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def safe_next(path: str | None) -> str | None:
    """Only a path on this site (no scheme, no //host) may be where sign-in lands."""
    return path if path and SAFE_NEXT.match(path) and not path.startswith(("/signin", "/signout")) else None


# ------------------------------------------------------------------------------------------------
# Signing in and out


@router.get("/")
def home(request: Request, db: Session = Depends(session), svc: AppServices = Depends(services)):
    viewer = resolve_viewer(request, db, svc)
    return RedirectResponse("/accounts" if viewer.is_admin and viewer.account is None else "/calls", status_code=303)


@router.get("/signin")
def signin_page(request: Request, next: str | None = Query(None), notice: str | None = Query(None),
                db: Session = Depends(session), svc: AppServices = Depends(services)):
    try:
        resolve_viewer(request, db, svc)
        return RedirectResponse(safe_next(next) or "/", status_code=303)
    except SignInRequired:
        pass
    codec = codec_of(request)
    data = codec.loads(request.cookies.get(COOKIE_NAME))
    if data is None or data.signed_in:
        data = codec.anonymous()
    response = render(request, "signin.html", title="Sign in", csrf=codec.csrf_token(data), next=safe_next(next),
                      notice=message(request, NOTICES[notice]) if notice in NOTICES else None, error=None)
    set_session(response, request, data)
    return response


@router.post("/signin")
def signin(request: Request, form: FormData = Depends(posted_form), db: Session = Depends(session),
           svc: AppServices = Depends(services)):
    codec = codec_of(request)
    data = codec.loads(request.cookies.get(COOKIE_NAME))
    if not codec.check_csrf(data, _text(form, "csrf")):
        raise ApiError(403, message(request, "signin_expired"))
    next_path = safe_next(_text(form, "next"))

    def refuse(message: str):
        return render(request, "signin.html", status_code=401, title="Sign in", csrf=codec.csrf_token(data),
                      next=next_path, notice=None, error=message)

    try:
        who = auth.authenticate(db, (_text(form, "token") or "").strip(), svc.settings.admin_token)
    except Unauthenticated as exc:
        return refuse(message(request, "closed" if exc.message == auth.ACCOUNT_CLOSED else "bad_token"))
    if who.user_id is None:
        signed = codec.signed_in(ADMIN_TOKEN_SUBJECT, svc.settings.admin_token)
    else:
        user = db.get(User, who.user_id)
        signed = codec.signed_in(f"user:{user.id}", user.token_hash)
    audit.record(db, who.actor, "session.signin", account_id=who.account_id, via="dashboard")
    db.commit()
    response = RedirectResponse(next_path or ("/accounts" if who.is_admin else "/calls"), status_code=303)
    set_session(response, request, signed)
    return response


@router.post("/signout")
def signout(request: Request, form: FormData = Depends(posted_form), db: Session = Depends(session),
            svc: AppServices = Depends(services)):
    codec = codec_of(request)
    data = codec.loads(request.cookies.get(COOKIE_NAME))
    if data is not None and not codec.check_csrf(data, _text(form, "csrf")):
        raise ApiError(403, message(request, "form_expired"))
    try:
        viewer = resolve_viewer(request, db, svc)
    except SignInRequired:
        viewer = None
    if viewer is not None:
        # The cookie is signed, not stored: remember the session's end until it would have expired anyway.
        svc.queue.redis.set(ENDED_KEY.format(viewer.session.nonce), 1, ex=codec.max_age_s)
        audit.record(db, viewer.principal.actor, "session.signout", account_id=viewer.principal.account_id,
                     via="dashboard")
        db.commit()
    response = RedirectResponse("/signin?notice=signed-out", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


# ------------------------------------------------------------------------------------------------
# Calls


@router.get("/calls")
def calls_page(request: Request, viewer: Viewer = Depends(current_viewer), db: Session = Depends(session)):
    if viewer.account is None:
        return RedirectResponse("/accounts", status_code=303)
    account = load_account(db, viewer.principal, viewer.account.id)
    home = account.phone_numbers[0] if account.phone_numbers else None
    query = CallQuery.parse(request.query_params, home_number=home)  # Invalid → a 422 page, nothing run
    found = listing.list_calls(db, account, query)
    return render(request, "calls.html", title="Calls", viewer=viewer, account=account, calls=found.calls,
                  page=found.page, pages=found.pages, total=found.total, query=query, home=home,
                  list_url=calls_url(query), calls_url=calls_url, outcomes=listing.OUTCOMES,
                  urgencies=listing.URGENCIES, states=listing.STATES, sorts=listing.SORTS,
                  flags=listing.FLAG_FILTERS)


def calls_url(query: CallQuery, **changes) -> str:
    params = query.params(**changes)
    return "/calls" + (f"?{urlencode(params)}" if params else "")


def stored_recording_key(db: Session, call: Call) -> str | None:
    return db.scalar(select(Recording.audio_key).where(Recording.call_id == call.id, Recording.audio_key.is_not(None))
                     .order_by(Recording.id.desc()).limit(1))


def recording_state(call: Call, stored: bool) -> str:
    """stored | processing | failed | none: what the owner can expect of the recording."""
    if stored:
        return "stored"
    if call.processing_status == "failed":
        return "failed"
    if any(r.status in ("queued", "processing") for r in call.recordings) or call.processing_status == "retrying":
        return "processing"
    return "none"


def give_up_at(call: Call, step_window_s: float) -> datetime:
    """Roughly when the worker stops retrying the call's job (and so its pending alerts)."""
    start = call.ended_at or call.started_at
    return start + timedelta(seconds=sum(JOB_RETRY.intervals) + (JOB_RETRY.max + 1) * step_window_s)


def delivery_notes(request: Request, call: Call, viewer: Viewer) -> list[dict]:
    """Each alert in plain words for owners and members; the technical reason only for admins."""
    svc: AppServices = request.app.state.services
    until = local_time(give_up_at(call, svc.settings.step_retry_window_s), call.account.timezone, with_year=False)
    notes = []
    for d in call.deliveries:
        recipient = d.recipient if d.channel == "email" else phone_shown(d.recipient, call.to_number)
        state = d.status if d.status in ("sent", "failed", "suppressed") else ("retrying" if d.error else "sending")
        words = message(request, f"delivery_{state}", channel=d.channel, recipient=recipient, until=until)
        notes.append({"status": d.status, "state": state, "text": words,
                      "detail": d.error if viewer.is_admin and d.error and d.status != "sent" else None})
    return notes


@router.get("/calls/{call_sid}")
def call_page(call_sid: str, request: Request, at: int | None = Query(None, ge=0, le=86_400),
              viewer: Viewer = Depends(current_viewer), db: Session = Depends(session)):
    call = load_call(db, viewer.principal, call_sid)
    audit.record(db, viewer.principal.actor, "transcript.read", account_id=call.account_id, call_sid=call.call_sid,
                 via="dashboard")
    handling.set_read(db, call, True, actor=viewer.principal.actor, by=viewer.name, via="dashboard")
    db.commit()
    transcript = sorted(call.transcript or [], key=lambda s: (s.get("start") or 0, s.get("speaker") or ""))
    stored = stored_recording_key(db, call) is not None
    lead = call.lead if isinstance(call.lead, dict) else {}
    home = call.to_number
    callback = lead.get("callback_number") if phone.is_e164(lead.get("callback_number")) else None
    callback = callback or (call.from_number if phone.is_e164(call.from_number) else None)
    nothing_kept = not (stored or transcript or call.conversation or lead or call.summary)
    missed = call.outcome == "missed" and nothing_kept and recording_state(call, stored) == "none"
    name = lead.get("name")
    heading = name or phone_shown(call.from_number, home)
    return render(request, "call.html", title=heading, heading=heading, viewer=viewer, account=call.account,
                  call=call, lead=lead, transcript=transcript, has_recording=stored, seek=at if stored else None,
                  recording=recording_state(call, stored), missed=missed, nothing_kept=nothing_kept,
                  callback=callback, home=home, urgency=listing.urgency_of(call),
                  alerts=delivery_notes(request, call, viewer), blockable=phone.is_e164(call.from_number),
                  caller_blocked=phone.is_e164(call.from_number)
                  and screening.find_listed(db, call.account_id, call.from_number) is not None)


@router.post("/calls/{call_sid}/handled")
def mark_handled(call_sid: str, request: Request, form: FormData = Depends(checked_form),
                 viewer: Viewer = Depends(current_viewer), db: Session = Depends(session)):
    """Owners and members mark a call handled (or open again); `next` is the page to go back to."""
    call = load_call(db, viewer.principal, call_sid)
    wanted = _flag(request, form, "handled")
    handling.set_handled(db, call, wanted, actor=viewer.principal.actor, by=viewer.name, via="dashboard")
    db.commit()
    return RedirectResponse(_back(form, f"/calls/{quote(call.call_sid)}"), status_code=303)


@router.post("/calls/{call_sid}/block")
def block_caller(call_sid: str, request: Request, form: FormData = Depends(checked_form),
                 viewer: Viewer = Depends(current_viewer), db: Session = Depends(session)):
    """Owners block (or unblock) the number a call came from: its next call is refused."""
    call = load_call(db, viewer.principal, call_sid, write=True)
    wanted = _flag(request, form, "blocked")
    if wanted:
        blocklist.block(db, viewer.principal, call.account, call.from_number, via="dashboard")
    else:
        try:
            blocklist.unblock(db, viewer.principal, call.account, call.from_number, via="dashboard")
        except NotFound:
            pass  # already off the list (a second click, another owner): the page shows it is
    db.commit()
    return RedirectResponse(f"/calls/{quote(call.call_sid)}", status_code=303)


@router.post("/calls/{call_sid}/read")
def mark_read(call_sid: str, request: Request, form: FormData = Depends(checked_form),
              viewer: Viewer = Depends(current_viewer), db: Session = Depends(session)):
    call = load_call(db, viewer.principal, call_sid)
    wanted = _flag(request, form, "read")
    handling.set_read(db, call, wanted, actor=viewer.principal.actor, by=viewer.name, via="dashboard")
    db.commit()
    return RedirectResponse(_back(form, "/calls"), status_code=303)


def _flag(request: Request, form: FormData, name: str) -> bool:
    value = _text(form, name)
    if value not in ("0", "1"):
        raise ApiError(400, message(request, "bad_flag", field=name))
    return value == "1"


def _back(form: FormData, default: str) -> str:
    """Where a button's form returns: a page of this site only (the list with its filters, or the call)."""
    target = _text(form, "next") or ""
    path = target.split("?", 1)[0]
    return target if target.startswith("/calls") and safe_next(path) == path else default


@router.get("/calls/{call_sid}/recording")
def call_recording(call_sid: str, request: Request, viewer: Viewer = Depends(current_viewer), db: Session = Depends(session),
                   svc: AppServices = Depends(services)):
    """The audio element's source: a redirect to a presigned URL, so the browser never needs a token."""
    call = load_call(db, viewer.principal, call_sid)
    key = stored_recording_key(db, call)
    if key is None:
        raise ApiError(404, message(request, "no_recording"))
    audit.record(db, viewer.principal.actor, "recording.read", account_id=call.account_id, call_sid=call.call_sid,
                 key=key, via="dashboard")
    db.commit()
    response = RedirectResponse(svc.store.presigned_url(key, expires_in=PRESIGNED_TTL_S), status_code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------------------------------------
# The account


@cache
def timezone_names() -> tuple[str, ...]:
    """The IANA names the timezone picker offers (the schema accepts exactly what zoneinfo knows)."""
    return tuple(sorted(name for name in available_timezones() if "/" in name or name == "UTC"))


def account_page_response(request: Request, viewer: Viewer, account: Account, form: AccountForm,
                          status_code: int = 200, saved: str | None = None, db: Session | None = None,
                          notice: str | None = None, new_token: dict | None = None,
                          team_errors: list[str] | None = None, section: str | None = None,
                          blocklist_errors: list[str] | None = None, webhook_errors: list[str] | None = None,
                          new_webhook: dict | None = None):
    users = team.list_users(db, viewer.principal, account) if db is not None and viewer.can_edit else []
    blocked = blocklist.list_blocked(db, viewer.principal, account) if db is not None else []
    hooks = ([(e, webhook_endpoints.deliveries(db, e, limit=10)) for e in webhooks.list_endpoints(db, viewer.principal, account)]
             if db is not None else [])
    words = request.app.state.services.templates
    # What callers hear when a box is left empty: shown in the box, greyed, so the owner sees it.
    defaults = {"greeting": words.render("greeting.txt", business_name=account.name),
                "disclosure": words.render("disclosure.txt", business_name=account.name)}
    return render(request, "account.html", status_code=status_code, title="Account", viewer=viewer, account=account,
                  form=form, days=DAYS, saved=saved, users=users, notice=notice, new_token=new_token,
                  team_errors=team_errors or [], validity_days=TOKEN_VALIDITY_DAYS, section=section,
                  blocked=blocked, blocklist_errors=blocklist_errors or [],
                  hooks=hooks, webhook_events=WEBHOOK_EVENTS, webhook_errors=webhook_errors or [],
                  new_webhook=new_webhook,
                  timezones=timezone_names(), defaults=defaults)


def _expiry(form: FormData) -> datetime | None:
    days = _text(form, "valid_days") or ""
    return utcnow() + timedelta(days=int(days)) if days.isdigit() and int(days) in TOKEN_VALIDITY_DAYS else None


@router.get("/account")
def account_page(request: Request, saved: str | None = Query(None, max_length=16), removed: bool = Query(False),
                 viewer: Viewer = Depends(current_viewer),
                 db: Session = Depends(session)):
    if viewer.account is None:
        return RedirectResponse("/accounts", status_code=303)
    account = load_account(db, viewer.principal, viewer.account.id)
    return account_page_response(request, viewer, account, AccountForm(form_values(account)), saved=saved, db=db,
                                 notice=message(request, "user_removed") if removed else None)


@router.post("/account")
def save_account(request: Request, form: FormData = Depends(checked_form), viewer: Viewer = Depends(current_viewer),
                 db: Session = Depends(session), svc: AppServices = Depends(services)):
    if viewer.account is None:  # an admin who has not picked an account yet
        return RedirectResponse("/accounts", status_code=303)
    account = load_account(db, viewer.principal, viewer.account.id, write=True)
    section = _text(form, "section")
    if section is not None and section not in SECTIONS:
        raise ApiError(400, message(request, "bad_section", sections=", ".join(SECTIONS)))
    shown, changes = parse_account_form(form, account)
    if shown.errors:
        return account_page_response(request, viewer, account, shown, status_code=422, db=db, section=section)
    if changes:
        try:
            accounts.update_account(db, account, changes, who=viewer.principal, rules=svc.account_rules,
                                    queue=svc.queue)
            db.commit()
        except DomainError as failure:
            db.rollback()
            exc = as_api_error(failure)
            shown.errors["form"] = [exc.message]
            return account_page_response(request, viewer, load_account(db, viewer.principal, account.id), shown,
                                         status_code=exc.status, db=db, section=section)
        svc.directory.clear()  # the greeting and disclosure are cached per number
    return RedirectResponse(f"/account?saved={section}#{section}" if section else "/account?saved=true",
                            status_code=303)


# ------------------------------------------------------------------------------------------------
# The account's team (owners and admins): the API's own team functions, so the same rules and audit


def _team_account(db: Session, viewer: Viewer) -> Account:
    if viewer.account is None:
        raise ApiError(404, "no account picked")
    return load_account(db, viewer.principal, viewer.account.id, write=True)


def _team_page(request: Request, db: Session, viewer: Viewer, account: Account, status_code: int = 200, **shown):
    return account_page_response(request, viewer, account, AccountForm(form_values(account)), status_code=status_code,
                                 db=db, **shown)


@router.post("/account/users")
def add_team_user(request: Request, form: FormData = Depends(checked_form), viewer: Viewer = Depends(current_viewer),
                  db: Session = Depends(session)):
    account = _team_account(db, viewer)
    try:
        body = UserCreate.model_validate({"email": (_text(form, "email") or "").strip(),
                                          "role": _text(form, "role") or "member", "expires_at": _expiry(form)})
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {str(e['msg']).removeprefix('Value error, ')}" for e in exc.errors()]
        return _team_page(request, db, viewer, account, status_code=422, team_errors=problems)
    user, token = team.add_user(db, viewer.principal, account, email=body.email, role=body.role,
                                expires_at=body.expires_at)
    db.commit()
    return _team_page(request, db, viewer, account, notice=message(request, "user_added"),
                      new_token={"email": user.email, "role": user.role, "token": token})


@router.post("/account/users/{user_id}/token")
def rotate_team_token(user_id: str, request: Request, form: FormData = Depends(checked_form),
                      viewer: Viewer = Depends(current_viewer), db: Session = Depends(session)):
    account = _team_account(db, viewer)
    user, token = team.rotate_token(db, viewer.principal, account, user_id, expires_at=_expiry(form))
    db.commit()
    return _team_page(request, db, viewer, account, notice=message(request, "token_rotated"),
                      new_token={"email": user.email, "role": user.role, "token": token})


@router.post("/account/users/{user_id}/remove", dependencies=[Depends(checked_form)])
def remove_team_user(user_id: str, request: Request, viewer: Viewer = Depends(current_viewer),
                     db: Session = Depends(session)):
    account = _team_account(db, viewer)
    try:
        team.remove_user(db, viewer.principal, account, user_id)
    except Conflict as exc:
        db.rollback()
        return _team_page(request, db, viewer, account, status_code=409, team_errors=[exc.message])
    db.commit()
    return RedirectResponse("/account?removed=true", status_code=303)


# ------------------------------------------------------------------------------------------------
# The account's blocklist (owners and admins; members see it on the page): accounts.blocklist, as the API


@router.post("/account/blocklist")
def add_blocked_number(request: Request, form: FormData = Depends(checked_form),
                       viewer: Viewer = Depends(current_viewer), db: Session = Depends(session)):
    account = _team_account(db, viewer)
    try:
        blocklist.block(db, viewer.principal, account, _text(form, "number") or "", via="dashboard")
    except (Invalid, Conflict) as exc:
        db.rollback()
        return _team_page(request, db, viewer, account, status_code=422 if isinstance(exc, Invalid) else 409,
                          blocklist_errors=[exc.message])
    db.commit()
    return RedirectResponse("/account#blocklist", status_code=303)


@router.post("/account/blocklist/remove")
def remove_blocked_number(request: Request, form: FormData = Depends(checked_form),
                          viewer: Viewer = Depends(current_viewer), db: Session = Depends(session)):
    account = _team_account(db, viewer)
    try:
        blocklist.unblock(db, viewer.principal, account, _text(form, "number") or "", via="dashboard")
    except (Invalid, NotFound):
        db.rollback()  # not on the list (any more): the page shows the list as it is
    db.commit()
    return RedirectResponse("/account#blocklist", status_code=303)


# ------------------------------------------------------------------------------------------------
# The account's webhook endpoints (owners and admins change them; members see them and their log):
# accounts.webhooks, as the API


@router.post("/account/webhooks")
def add_webhook(request: Request, form: FormData = Depends(checked_form), viewer: Viewer = Depends(current_viewer),
                db: Session = Depends(session), svc: AppServices = Depends(services)):
    account = _team_account(db, viewer)
    chosen = [event for event in WEBHOOK_EVENTS if form.get(f"event_{event}")]
    try:
        endpoint = webhooks.add_endpoint(db, viewer.principal, account, (_text(form, "url") or "").strip(), chosen,
                                         allow_private=svc.settings.webhook_allow_private, via="dashboard")
    except (Invalid, Conflict) as exc:
        db.rollback()
        return _team_page(request, db, viewer, account, status_code=422 if isinstance(exc, Invalid) else 409,
                          webhook_errors=[exc.message], section="webhooks")
    db.commit()
    # The secret is shown on this page only, this once.
    return _team_page(request, db, viewer, account, new_webhook={"url": endpoint.url, "secret": endpoint.secret},
                      section="webhooks")


@router.post("/account/webhooks/{webhook_id}/remove", dependencies=[Depends(checked_form)])
def remove_webhook(webhook_id: str, viewer: Viewer = Depends(current_viewer), db: Session = Depends(session)):
    account = _team_account(db, viewer)
    webhooks.remove_endpoint(db, viewer.principal, account, webhook_id, via="dashboard")
    db.commit()
    return RedirectResponse("/account#webhooks", status_code=303)


@router.post("/account/webhook-deliveries/{delivery_id}/retry", dependencies=[Depends(checked_form)])
def retry_webhook_delivery(request: Request, delivery_id: int = Path(ge=1, le=2**31 - 1), viewer: Viewer = Depends(current_viewer),
                           db: Session = Depends(session), svc: AppServices = Depends(services)):
    account = _team_account(db, viewer)
    try:
        row = webhooks.send_again(db, viewer.principal, delivery_id, via="dashboard")
    except (Invalid, Conflict) as exc:
        db.rollback()
        return _team_page(request, db, viewer, account, status_code=409, webhook_errors=[exc.message],
                          section="webhooks")
    if row.account_id != account.id:
        raise NotFound("no such webhook delivery")
    db.commit()
    try:
        svc.queue.enqueue_webhook(row.id, row.attempts)
    except QueueUnavailable:
        pass  # due now: the workers' reconciler queues it
    return RedirectResponse("/account#webhooks", status_code=303)


# ------------------------------------------------------------------------------------------------
# Admins: pick an account


@router.get("/accounts")
def accounts_page(request: Request, viewer: Viewer = Depends(current_viewer), db: Session = Depends(session)):
    auth.require_role(viewer.principal, "admin")
    rows = db.scalars(select(Account).order_by(Account.status, Account.name)).all()
    return render(request, "accounts.html", title="Accounts", viewer=viewer, account=viewer.account, accounts=rows)


@router.post("/accounts/{account_id}/open", dependencies=[Depends(checked_form)])
def open_account(account_id: str, request: Request, viewer: Viewer = Depends(current_viewer),
                 db: Session = Depends(session)):
    auth.require_role(viewer.principal, "admin")
    account = load_account(db, viewer.principal, account_id)
    response = RedirectResponse("/calls", status_code=303)
    set_session(response, request, replace(viewer.session, account_id=account.id))
    return response


# ------------------------------------------------------------------------------------------------
# Style

CSS = CSS_PATH.read_text()


@router.get("/dashboard.css")
def stylesheet():
    return Response(CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})
