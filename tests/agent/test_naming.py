"""Event names from function names: noun_verb, snake_case, past tense."""

from __future__ import annotations

import pytest

from agentlytics.agent.naming import event_name


@pytest.mark.parametrize(
    ("function", "kwargs", "event"),
    [
        ("create_project", {}, "project_created"),
        ("createProject", {}, "project_created"),
        ("handle_signup", {}, "user_signed_up"),
        ("register", {}, "user_signed_up"),
        ("login", {}, "user_logged_in"),
        ("checkout", {}, "checkout_completed"),
        ("add_to_cart", {}, "item_added_to_cart"),
        ("delete_items", {}, "item_deleted"),
        ("invite_members", {}, "member_invited"),
        ("pay_invoice", {}, "invoice_paid"),
        ("stop_timer", {}, "timer_stopped"),
        ("submit_feedback_form", {}, "feedback_submitted"),
        ("apply_coupon", {}, "coupon_applied"),
        ("get_forecast", {}, "forecast_fetched"),
        ("new", {"noun_hint": "orders"}, "order_created"),
        ("orders", {"method_verb": "created"}, "order_created"),
        ("", {"noun_hint": "Comment", "method_verb": "created"}, "comment_created"),
        ("weather", {}, "weather_used"),
    ],
)
def test_event_names(function: str, kwargs: dict[str, str], event: str) -> None:
    assert event_name(function, **kwargs) == event
