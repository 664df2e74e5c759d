// The case's terminal: its id, online or not, battery, when last heard from, firmware.

import { h, refill } from "../dom.js";
import { formatTime, t } from "../i18n.js";
import { dash, field } from "./facts.js";

function onlineLabel(online) {
  const key = online === true ? "online" : online === false ? "offline" : "unknown";
  return h("span", { class: `dot ${key}` }, t(`fleet.${key}`));
}

/** The terminal card: `update(s)` redraws it from a read of the case. */
export function deviceCard() {
  const node = h("section", { class: "card", id: "device-card" });
  return {
    node,
    update({ detail, device }) {
      const body = device
        ? h("dl", { class: "facts" },
          field(t("fleet.device"), h("span", { class: "mono" }, device.device_id)),
          field(t("fleet.status"), onlineLabel(device.online)),
          field(t("fleet.battery"), device.battery === null ? "—" : `${device.battery} %`),
          field(t("fleet.last_seen"), formatTime(device.last_seen_at)),
          field(t("fleet.fw"), dash(device.fw)))
        : h("p", { class: "empty" }, detail.device_id ? detail.device_id : t("case.no_device"));
      return refill(node, h("h2", {}, t("case.terminal")), body);
    },
  };
}
