"""Where residents can ask in person: the 20 town/street stations and the district centre."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import context
from actions.services import STORE_DOWN
from miyun.knowledge import answers
from miyun.knowledge.store import ContentUnavailable


def _coordinate(tracker: Tracker, name: str) -> Optional[float]:
    value = context.latest_entity(tracker, name)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class ActionFindStation(Action):
    """The station for the town in the latest message, the nearest to a shared location, or the list."""

    def name(self) -> Text:
        return "action_find_station"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        try:
            self.answer(dispatcher, tracker)
        except ContentUnavailable:
            dispatcher.utter_message(text=STORE_DOWN)
        return []

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        store = context.content()
        town = context.latest_entity(tracker, "town")
        lat, lon = _coordinate(tracker, "latitude"), _coordinate(tracker, "longitude")
        if town:
            station = store.station_for_town(town)
            if station:
                dispatcher.utter_message(text=answers.station_text(station, lead=f"{town}的公共法律服务站："))
                return
        if lat is not None and lon is not None:
            found = answers.nearest(store.stations(), lat, lon)
            if found:
                station, km = found
                dispatcher.utter_message(
                    text=answers.station_text(station, lead=f"离您最近的是（约{km:.0f}公里，按镇街中心估算）：")
                )
                return
        stations = [s for s in store.stations() if s.get("town")]
        centre = next((s for s in store.stations() if not s.get("town")), None)
        names = "、".join(s["town"] for s in stations)
        dispatcher.utter_message(
            text=answers.compose(
                f"密云区{len(stations)}个镇街都设有公共法律服务站，提供法律咨询、法律援助、人民调解等免费服务：{names}。",
                f"区里还有{centre['name']}。" if centre else None,
                "请告诉我您在哪个镇街（例如“古北口”），我告诉您该站的信息；也可以发送位置找最近的站。",
                "各站地址、电话和开放时间正在核实，去之前请拨打12348确认。",
            )
        )
