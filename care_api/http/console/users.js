// Staff logins, for the administrator: add an operator, reset a password, disable a login.

import { api } from "./api.js";
import { fill, h, refill } from "./dom.js";
import { field, registryForm, submit, text } from "./forms.js";
import { formatTime, t } from "./i18n.js";

export function mount(root, { toast }) {
  let users = null;
  let resetting = null; // the user whose new password is being typed

  async function load() {
    try {
      users = await api("/users");
      draw();
    } catch (err) {
      if (err.status === 403) {
        fill(root, h("section", { class: "card" }, h("h2", {}, t("users.title")),
          h("p", { class: "empty", id: "users-admin-only" }, t("users.admin_only"))));
      } else if (err.status !== 401) toast(t("error.load", { detail: err.message }), "error");
    }
  }

  async function add(form) {
    const body = {
      username: text(form, "username"), name: text(form, "name"),
      role: form.querySelector("[name=role]").value, password: form.querySelector("[name=password]").value,
    };
    const made = await submit(form, "/users", "POST", body, { 409: ["username", t("users.taken")] });
    if (made) {
      toast(t("users.added", { username: made.username }));
      form.reset();
      load();
    }
  }

  async function reset(form) {
    const body = { password: form.querySelector("[name=password]").value };
    const done = await submit(form, `/users/${resetting.id}/password`, "POST", body);
    if (done) {
      toast(t("users.reset_done", { username: done.username }));
      resetting = null;
      load();
    }
  }

  async function toggle(user) {
    try {
      await api(`/users/${user.id}`, { method: "PATCH", body: { active: !user.active } });
      load();
    } catch (err) {
      if (err.status !== 401) toast(t("error.action", { detail: err.message }), "error");
    }
  }

  function roleSelect() {
    return h("div", { class: "field", dataset: { field: "role" } },
      h("label", { for: "user-role" }, t("users.role")),
      h("select", { id: "user-role", name: "role" },
        h("option", { value: "operator" }, t("users.role.operator")),
        h("option", { value: "admin" }, t("users.role.admin"))),
      h("span", { class: "field-error", id: "user-role-error", role: "alert" }));
  }

  function draw() {
    const head = ["users.username", "users.name", "users.role", "users.state", "users.password_set", ""]
      .map((k) => h("th", {}, k ? t(k) : ""));
    refill(root,
      h("section", { class: "card" },
        h("h2", {}, t("users.title")),
        h("table", { class: "grid", id: "users-table" },
          h("thead", {}, h("tr", {}, head)),
          h("tbody", {}, users.map((u) => h("tr", { dataset: { username: u.username } },
            h("td", { class: "mono" }, u.username),
            h("td", {}, u.name || "—"),
            h("td", {}, t(`users.role.${u.role}`)),
            h("td", {}, t(u.active ? "users.active" : "users.disabled")),
            h("td", {}, formatTime(u.password_set_at)),
            h("td", { class: "actions" },
              h("button", { type: "button", class: "ghost", dataset: { action: "reset" },
                onclick: () => { resetting = u; draw(); } }, t("users.reset")),
              " ",
              h("button", { type: "button", class: "ghost", dataset: { action: "toggle" },
                onclick: () => toggle(u) }, t(u.active ? "users.disable" : "users.enable")))))))),
      resetting
        ? h("section", { class: "card" },
          h("h3", {}, t("users.reset_for", { username: resetting.username })),
          registryForm("user-reset", [
            field("user-reset", "password", t("users.new_password"), { type: "password",
              attrs: { autocomplete: "new-password" } }),
          ], t("users.reset"), reset))
        : null,
      h("section", { class: "card" },
        h("h3", {}, t("users.add")),
        registryForm("user-form", [
          field("user", "username", t("users.username"), { hint: t("users.username_hint") }),
          field("user", "name", t("users.name")),
          roleSelect(),
          field("user", "password", t("users.password"), { type: "password",
            attrs: { autocomplete: "new-password" }, hint: t("users.password_hint") }),
        ], t("users.add"), add)));
  }

  fill(root, h("p", { class: "empty" }, t("common.loading")));
  load();
  return {};
}
