"""Event names from function names: ``create_project`` → ``project_created``.

Names are ``noun_verb`` in snake_case with the verb in the past tense. Known journey steps
have fixed names (``signup`` → ``user_signed_up``).
"""

from __future__ import annotations

import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: whole function names (after prefixes are dropped) with a conventional event name
SPECIAL = {
    "signup": "user_signed_up",
    "sign_up": "user_signed_up",
    "register": "user_signed_up",
    "register_user": "user_signed_up",
    "create_account": "user_signed_up",
    "login": "user_logged_in",
    "log_in": "user_logged_in",
    "signin": "user_signed_in",
    "sign_in": "user_signed_in",
    "logout": "user_logged_out",
    "log_out": "user_logged_out",
    "signout": "user_signed_out",
    "sign_out": "user_signed_out",
    "checkout": "checkout_completed",
    "subscribe": "subscription_started",
    "unsubscribe": "subscription_canceled",
    "forgot_password": "password_reset_requested",
    "reset_password": "password_reset",
    "change_password": "password_changed",
    "verify_email": "email_verified",
    "confirm_email": "email_verified",
    "onboard": "onboarding_completed",
    "complete_onboarding": "onboarding_completed",
    "upgrade": "plan_upgraded",
    "downgrade": "plan_downgraded",
    "contact": "contact_form_submitted",
    "feedback": "feedback_submitted",
    "search": "search_performed",
}

IRREGULAR = {
    "buy": "bought",
    "pay": "paid",
    "send": "sent",
    "leave": "left",
    "run": "run",
    "set": "set",
    "reset": "reset",
    "read": "read",
    "find": "found",
    "make": "made",
    "build": "built",
    "get": "fetched",
    "fetch": "fetched",
    "show": "viewed",
    "view": "viewed",
    "begin": "begun",
    "withdraw": "withdrawn",
    "put": "updated",
    "new": "created",
    "lookup": "looked_up",
    "login": "logged_in",
    "logout": "logged_out",
    "signup": "signed_up",
    "checkout": "checked_out",
    "cancel": "canceled",
}
_DOUBLE = _words(
    """
    stop ship plan drop tag pin star flag chat ban log submit transfer unpin unstar
    unflag plot scan grab swap sub rob
    """
)

#: verbs that change something: a function named with one of these is worth a look
MUTATION_VERBS = _words(
    """
    create add new update edit modify change set save delete remove destroy archive
    restore register signup login logout submit send post publish unpublish upload
    import export invite accept decline reject approve cancel complete finish start
    begin stop pause resume checkout purchase buy pay order place book reserve
    subscribe unsubscribe upgrade downgrade renew refund charge transfer withdraw
    deposit share like unlike follow unfollow comment reply rate review vote join leave
    connect disconnect enable disable activate deactivate verify confirm reset generate
    run execute trigger schedule assign unassign claim redeem apply download close
    reopen duplicate copy move rename mark flag report block unblock mute pin unpin
    favorite bookmark request install uninstall deploy onboard convert merge split sync
    build make
    """
)
#: verbs of reading, named for MCP tools (each call of a tool is an action of the agent)
READ_VERBS = _words(
    """
    get list fetch read find search lookup query describe show view check analyze
    summarize translate calculate compute count explain inspect preview render validate
    compare estimate
    """
)
_DROP_PREFIX = ("handle", "do", "api", "route", "view", "endpoint", "on", "process", "perform")
_DROP_SUFFIX = ("view", "endpoint", "handler", "api", "route", "action", "post", "form")
_STOP = frozenset({"a", "an", "the", "new", "my", "by", "for", "of", "in", "on", "at", "all"})
_PREP = frozenset({"to", "from", "into", "onto"})


def tokens(name: str) -> list[str]:
    """``createProject``, ``create_project`` and ``CreateProject`` → ["create", "project"]."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [t for t in re.split(r"[^a-zA-Z0-9]+", spaced.lower()) if t]


def trim(parts: list[str]) -> list[str]:
    while len(parts) > 1 and parts[0] in _DROP_PREFIX:
        parts = parts[1:]
    while len(parts) > 1 and parts[-1] in _DROP_SUFFIX:
        parts = parts[:-1]
    return parts


def past(verb: str) -> str:
    if verb in IRREGULAR:
        return IRREGULAR[verb]
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and len(verb) > 1 and verb[-2] not in "aeiou":
        return verb[:-1] + "ied"
    if verb in _DOUBLE:
        return verb + verb[-1] + "ed"
    return verb + "ed"


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is", "news")) and len(word) > 3:
        return word[:-1]
    return word


def verb_of(name: str) -> str | None:
    """The leading verb of a function name, if it is one we know."""
    parts = trim(tokens(name))
    joined = "_".join(parts)
    if joined in SPECIAL:
        return parts[0]
    if parts and (parts[0] in MUTATION_VERBS or parts[0] in READ_VERBS):
        return parts[0]
    return None


def is_mutation(name: str) -> bool:
    parts = trim(tokens(name))
    return "_".join(parts) in SPECIAL or bool(parts and parts[0] in MUTATION_VERBS)


def event_name(
    function: str, *, noun_hint: str | None = None, method_verb: str | None = None
) -> str:
    """The event for a function: its verb in the past tense after its noun.

    ``noun_hint`` (a route's resource, a class name) stands in when the name has no noun;
    ``method_verb`` (from the HTTP method) when it has no verb.
    """
    parts = trim(tokens(function))
    joined = "_".join(parts)
    if joined in SPECIAL:
        return SPECIAL[joined]
    hint = [singular(t) for t in tokens(noun_hint or "")] or []
    if parts and (parts[0] in MUTATION_VERBS or parts[0] in READ_VERBS):
        verb, rest = parts[0], parts[1:]
        if rest and rest[0] in _PREP and len(rest) > 1:  # add_to_cart → item_added_to_cart
            target = [t for t in rest[1:] if t not in _STOP]
            return "_".join(["item", past(verb), rest[0], *target])
        noun = [t for t in rest if t not in _STOP] or hint or ["item"]
        noun[-1] = singular(noun[-1])
        return "_".join([*noun, past(verb)])
    noun = [t for t in parts if t not in _STOP] or hint or ["item"]
    noun[-1] = singular(noun[-1])
    return "_".join([*noun, method_verb or "used"])
