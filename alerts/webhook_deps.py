"""Dependencies of the alerts' webhooks: the answer services and the engine's placed calls.

The webhook routers are plain module-level routers; what they need comes per request from
`app.state`: the services `create_app` keeps there, and the call desk and callback machine
of the running alerts engine (`AlertsComponent.app_state()`, given to `create_app(state=…)`).
"""

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request

from alerts.answers import Answers
from alerts.callbacks_by_machine import AutoCallbacks
from alerts.calls import CallDesk
from alerts.hotline import Hotline
from care_api.http.deps import ServicesDep

PLACED_CALLS = "placed_calls"  # the app.state name of the engine's PlacedCalls


@dataclass(frozen=True)
class PlacedCalls:
    """The calls the alerts engine places: operators' bridged calls and callbacks by machine."""

    desk: CallDesk
    machine: AutoCallbacks


# Answers, Hotline and the survey reader hold nothing but the services: built per request,
# they answer exactly as one built per router did.
async def get_answers(services: ServicesDep) -> Answers:
    """The one answer service (replies, key presses, delivery reports)."""
    return Answers(services)


AnswersDep = Annotated[Answers, Depends(get_answers)]


async def get_hotline(services: ServicesDep, answers: AnswersDep) -> Hotline:
    """The hotline: calls and texts to the centre's number."""
    return Hotline(services, answers)


HotlineDep = Annotated[Hotline, Depends(get_hotline)]


async def get_surveys(services: ServicesDep) -> AutoCallbacks:
    """Callback surveys, for their SMS answers only (the attempts run in the alerts engine)."""
    return AutoCallbacks(services, voice=False)


SurveysDep = Annotated[AutoCallbacks, Depends(get_surveys)]


async def get_placed_calls(request: Request) -> PlacedCalls:
    """The running engine's call desk and callback machine, from `app.state`."""
    calls = getattr(request.app.state, PLACED_CALLS, None)
    if calls is None:
        # Mounted without the engine's state: a wiring mistake, so a 500 a test notices.
        raise RuntimeError(f"the call webhooks need app.state.{PLACED_CALLS} (create_app state=)")
    return cast(PlacedCalls, calls)


PlacedCallsDep = Annotated[PlacedCalls, Depends(get_placed_calls)]
