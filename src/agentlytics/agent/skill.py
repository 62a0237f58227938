"""The skill file ``init`` installs where coding agents look for skills, and its pointer."""

from __future__ import annotations

SKILL_PATH = ".claude/skills/agentlytics/SKILL.md"
AGENTS_MARKER = "agentlytics/SKILL.md"

SKILL_MD = """\
---
name: agentlytics
description: Product analytics for this app with agentlytics. Use when adding, naming or
  checking analytics events; when asked what users do; or after changing a user-facing flow.
---

# Analytics with agentlytics

This app sends events to an agentlytics server. `agentlytics init` already did the setup:

- `.agentlytics.json` holds the write key, the server URL and the claim URL (not committed);
- `.env` has `AGENTLYTICS_WRITE_KEY` and `AGENTLYTICS_URL`, which the Python SDK reads;
- web pages load the tracker script, which records page views by itself;
- MCP servers are wrapped with `agentlytics_sdk.mcp.instrument(server)`, which records every
  tool, resource and prompt call.

What is left is the events that describe what users *do*. Work in four steps.

## 1. Find the actions worth counting

Run `agentlytics plan` for a first list drawn from the code (routes, views, functions that
change data, MCP tools). Then read the code yourself: the data model, the handlers for
forms and API calls, the background jobs a user starts. Keep the 5 to 15 actions of the core
journey: signing up, the first real use (the "aha" moment), creating the main objects,
inviting others, paying, cancelling. Leave out admin pages, internal helpers, health checks,
tests, and reads a page view already counts.

## 2. Name them

- One event per action, named `noun_verb` in snake_case with the verb in the past tense:
  `user_signed_up`, `project_created`, `invite_sent`, `checkout_completed`.
- Props are a few snake_case facts about the action that are useful to group by:
  `{"plan": "pro", "seats": 3}`. Strings, numbers and booleans only.
- Never put passwords, tokens, keys, card numbers or message bodies in props. Pass a user's
  e-mail as `user_email=`, not as a prop.
- Reuse a name when the same action happens in two places (API and form).

Show the list to the person you work with (event, file, function, props) and wait for
their approval before changing code.

## 3. Instrument

Python (server side; `track` never raises and never blocks the request):

```python
from agentlytics_sdk import track

track("project_created", user_id, {"plan": plan}, user_email=email)
```

Put the call where the action has succeeded (after the database write), with the id of the
user who acted. `agentlytics plan --json > plan.json`, edited and approved, can be applied
with `agentlytics plan --apply plan.json`: it inserts the calls at the top of each function;
move a call lower when it should only count successes.

Browser (the tracker script is loaded):

```js
window.aa.track("video_played", { length_s: 94 });
window.aa.identify(userId, { email, name });   // after sign-in
```

## 4. Verify

Trigger the action once (run the app and click through, or call the endpoint), then run
`agentlytics verify`. It says how many events and page views arrived in the last 5 minutes,
hour and day, shows the latest ones, and exits non-zero while nothing has arrived. Events
flow before anyone claims the project; give the person the claim URL from
`.agentlytics.json` so they can see the dashboard.
"""

AGENTS_SECTION = f"""
## Analytics

This app uses agentlytics for product analytics. Before adding or renaming analytics events,
read `{SKILL_PATH}`: how to find the actions worth tracking, name them `noun_verb` in
snake_case, instrument them with `track()`, and check them with `agentlytics verify`.
"""
