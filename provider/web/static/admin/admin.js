// The admin page's behaviour. Every call to the app carries a fresh context token from
// AP.context.getToken(); the page token in the iframe URL is never reused. The DOM is built with
// textContent only, so nothing the server returns is ever parsed as HTML.
"use strict";

(function () {
  const root = document.getElementById("admin");
  const API = root.dataset.api;
  let state = { workspaces: [], delivery: null };
  let resyncTimer = null;

  // ── helpers ────────────────────────────────────────────────────────────────────────────────

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function token() {
    return new Promise((resolve, reject) => {
      if (!window.AP || !AP.context || !AP.context.getToken) {
        reject(new Error("This page only works inside Jira."));
        return;
      }
      AP.context.getToken((t) => (t ? resolve(t) : reject(new Error("Jira gave no token."))));
    });
  }

  async function api(method, path, body) {
    const headers = { Authorization: "JWT " + (await token()), Accept: "application/json" };
    const init = { method, headers, credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(API + path, init);
    } catch (e) {
      throw new Error("The app could not be reached. Check your connection and try again.");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const first = data && data.errors && data.errors[0];
      const error = new Error((first && first.title) || "The request failed (HTTP " + response.status + ").");
      error.fields = first && first.fields;
      throw error;
    }
    return data;
  }

  function when(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function flag(kind, title, text) {
    const box = document.getElementById("flags");
    const item = el("div", { class: "flag " + kind, role: kind === "error" ? "alert" : "status" },
      el("span", { class: "message-icon", "aria-hidden": "true" }, kind === "error" ? "!" : "✓"),
      el("div", { class: "message-body" }, el("p", { class: "message-title" }, title), text ? el("p", {}, text) : null));
    box.append(item);
    setTimeout(() => item.remove(), kind === "error" ? 9000 : 5000);
  }

  function message(kind, title, ...body) {
    const icon = { error: "!", warning: "!", success: "✓", info: "i" }[kind] || "i";
    return el("div", { class: "message " + kind, role: kind === "error" ? "alert" : null },
      el("span", { class: "message-icon", "aria-hidden": "true" }, icon),
      el("div", { class: "message-body" }, el("p", { class: "message-title" }, title), ...body));
  }

  function secret(label, value, id) {
    const input = el("input", { type: "text", id, readonly: true, value, spellcheck: "false" });
    const copy = el("button", {
      class: "button default compact", type: "button",
      onclick: async () => {
        input.select();
        try { await navigator.clipboard.writeText(value); flag("success", label + " copied"); }
        catch (e) { document.execCommand && document.execCommand("copy"); }
      },
    }, "Copy");
    return el("div", { class: "field" }, el("label", { for: id }, label), el("div", { class: "secret-row" }, input, copy));
  }

  async function busy(button, work) {
    button.disabled = true;
    try { return await work(); } finally { button.disabled = false; }
  }

  function fieldError(form, input, text) {
    form.querySelectorAll(".field-error").forEach((n) => n.remove());
    form.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
    if (!text) return;
    input.setAttribute("aria-invalid", "true");
    const id = input.id + "-error";
    input.setAttribute("aria-describedby", id);
    input.closest(".field").append(el("div", { class: "field-error", id }, text));
    input.focus();
  }

  // ── rendering ─────────────────────────────────────────────────────────────────────────────

  let revealed = null; // the one-time secrets of the last create/rotate, shown above the list

  function renderWorkspaces() {
    const box = document.getElementById("workspaces");
    box.removeAttribute("aria-busy");
    box.replaceChildren();
    if (revealed) box.append(revealed);
    if (!state.workspaces.length) {
      box.append(el("div", { class: "empty" },
        el("h3", {}, "No workspaces linked yet"),
        el("p", {}, "Create a workspace, or link one you already have with its link code. Its services then appear as components in Jira.")));
      return;
    }
    for (const ws of state.workspaces) box.append(workspaceCard(ws));
  }

  function workspaceCard(ws) {
    const unlink = el("button", { class: "button default", type: "button", "data-unlink": ws.id, onclick: () => confirmUnlink(ws) }, "Unlink");
    return el("article", { class: "card", id: "ws-" + ws.id, "aria-labelledby": "ws-name-" + ws.id },
      el("div", { class: "card-header" },
        el("div", {},
          el("h3", { id: "ws-name-" + ws.id }, ws.name),
          el("p", { class: "card-meta subtle small" }, "Linked " + when(ws.linkedAt) + " · ID ", el("code", {}, ws.id))),
        unlink),
      el("h4", {}, "Components"),
      componentsTable(ws),
      el("h4", {}, "Integrations"),
      integrationsTable(ws),
      integrationForm(ws),
      el("div", { class: "link-code-row" },
        el("button", { class: "button default", type: "button", "data-link-code": ws.id,
          onclick: (e) => newLinkCode(ws, e.currentTarget) }, "New link code"),
        el("span", { class: "subtle small" }, " A one-time code another Jira site can use to link this workspace.")),
      el("h4", {}, "Heartbeats"),
      heartbeatsTable(ws),
      activity(ws));
  }

  // The audit log loads when opened: most visits never look at it.
  function activity(ws) {
    const body = el("div", { "aria-live": "polite" });
    const details = el("details", { class: "activity", "data-activity": ws.id },
      el("summary", {}, "Activity"), body);
    details.addEventListener("toggle", async () => {
      if (!details.open) return;
      body.replaceChildren(el("p", { class: "subtle" }, "Loading…"));
      try {
        const data = await api("GET", "/workspaces/" + encodeURIComponent(ws.id) + "/audit");
        body.replaceChildren(auditTable(data.events));
      } catch (err) {
        body.replaceChildren(message("error", "Could not load the activity", el("p", {}, err.message)));
      }
    });
    return details;
  }

  const ACTIONS = {
    "workspace.created": "Workspace created",
    "workspace.linked": "Linked to a site",
    "workspace.unlinked": "Unlinked from a site",
    "link_code.issued": "Link code issued",
    "key.rotated": "Workspace key rotated",
    "integration.created": "Integration created",
    "integration.updated": "Integration changed",
    "integration.deleted": "Integration deleted",
    "integration.key_rotated": "Integration key rotated",
  };

  function auditTable(events) {
    if (!events.length) return el("p", { class: "empty-inline" }, "Nothing recorded yet.");
    return el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "When"), el("th", { scope: "col" }, "What"),
        el("th", { scope: "col" }, "Who"), el("th", { scope: "col", class: "hide-narrow" }, "Detail"))),
      el("tbody", {}, events.map((e) => el("tr", {},
        el("td", { class: "subtle" }, when(e.at)),
        el("td", {}, ACTIONS[e.action] || e.action),
        el("td", {}, e.actor),
        el("td", { class: "hide-narrow subtle" }, e.detail || ""))))));
  }

  const HEARTBEAT_LOZENGE = { active: "success", expired: "removed", waiting: "inprogress", disabled: "" };

  function heartbeatsTable(ws) {
    if (!ws.heartbeats.length) return el("p", { class: "empty-inline" }, "No heartbeats yet. Create them with the API (docs/clients.md) and ping them from a monitoring tool.");
    return el("div", { class: "table-wrap" }, el("table", { "data-heartbeats": ws.id },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Name"), el("th", { scope: "col", class: "hide-narrow" }, "Interval"),
        el("th", { scope: "col" }, "Last ping"), el("th", { scope: "col" }, "State"))),
      el("tbody", {}, ws.heartbeats.map((h) => el("tr", {},
        el("td", {}, h.name),
        el("td", { class: "hide-narrow" }, h.interval + " " + (h.interval === 1 ? h.intervalUnit.replace(/s$/, "") : h.intervalUnit)),
        el("td", { class: "subtle" }, h.lastPingAt ? when(h.lastPingAt) : "Never"),
        el("td", {}, el("span", { class: "lozenge " + HEARTBEAT_LOZENGE[h.state] }, h.state)))))));
  }

  function componentsTable(ws) {
    if (!ws.components.length) return el("p", { class: "empty-inline" }, "No components yet.");
    return el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Name"), el("th", { scope: "col", class: "hide-narrow" }, "Type"),
        el("th", { scope: "col", class: "hide-narrow" }, "Tier"), el("th", { scope: "col" }, "Jira projects"))),
      el("tbody", {}, ws.components.map((c) => el("tr", {},
        el("td", {}, c.name, c.fallback ? [" ", el("span", { class: "lozenge" }, "fallback")] : null),
        el("td", { class: "hide-narrow" }, c.type),
        el("td", { class: "hide-narrow" }, c.tier),
        el("td", {}, c.projects.length
          ? el("span", { class: "tags" }, c.projects.map((p) => el("span", { class: "lozenge inprogress", title: p.ari }, "Project " + p.id)))
          : el("span", { class: "subtlest" }, "Not connected")))))));
  }

  function integrationsTable(ws) {
    if (!ws.integrations.length) return el("p", { class: "empty-inline" }, "No integrations yet. Create one to send alerts from a monitoring tool.");
    return el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Name"), el("th", { scope: "col" }, "Ingestion URL"),
        el("th", { scope: "col", class: "hide-narrow" }, "Key rotated"), el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Actions")))),
      el("tbody", {}, ws.integrations.map((i) => el("tr", {},
        el("td", {}, i.name, " ", el("span", { class: "lozenge " + (i.enabled ? "success" : "") }, i.enabled ? "enabled" : "disabled")),
        el("td", {}, el("code", {}, i.ingestionUrl)),
        el("td", { class: "hide-narrow subtle" }, i.keyRotatedAt ? when(i.keyRotatedAt) : "Never"),
        el("td", {}, el("button", { class: "button default compact", type: "button", "data-rotate": i.id,
          onclick: (e) => rotateKey(ws, i, e.currentTarget) }, "Rotate key")))))));
  }

  function integrationForm(ws) {
    const id = "int-name-" + ws.id;
    const input = el("input", { type: "text", id, maxlength: "255", autocomplete: "off", required: true });
    const form = el("form", { class: "integration-form", novalidate: true },
      el("div", { class: "field" }, el("label", { for: id }, "New integration name"), input),
      el("button", { class: "button default", type: "submit" }, "Create integration"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      createIntegration(ws, form, input, e.submitter || form.querySelector("button"));
    });
    return form;
  }

  function renderDelivery() {
    const d = state.delivery;
    const box = document.getElementById("delivery");
    box.removeAttribute("aria-busy");
    box.replaceChildren();
    if (!d) return;
    if (d.paused) {
      box.append(message("error", "Delivery to this site is paused",
        el("p", {}, "Jira refused the app's credentials" + (d.pausedAt ? " on " + when(d.pausedAt) : "") + ": ", el("q", {}, d.pausedReason || "no reason given"), "."),
        el("p", {}, "Nothing is lost; messages wait here. Reinstalling or re-enabling the app from Manage apps resumes delivery.")));
    }
    if (d.throttledUntil && new Date(d.throttledUntil) > new Date()) {
      box.append(message("info", "Jira asked the app to slow down", el("p", {}, "Sending resumes after " + when(d.throttledUntil) + ".")));
    }
    const b = d.budget || {};
    if (b.incidentsOnly) {
      box.append(message("warning", "This site is near Jira's hourly request quota",
        el("p", {}, "Only incidents are sent until " + when(b.incidentsOnlyUntil) + "; components and reviews wait here and follow once the quota renews. Nothing is lost.")));
    }
    if (d.unknownProjectKeys.length) {
      box.append(message("warning", "Jira does not know some project keys",
        el("p", {}, "Incidents name these projects, but this site has no such project: ",
          el("span", { class: "tags" }, d.unknownProjectKeys.map((k) => el("code", {}, k))))));
    }
    const c = d.counts;
    box.append(el("div", { class: "stats" },
      stat("Pending", (c.pending || 0) + (c.sending || 0)),
      stat("Failed", c.failed || 0, c.failed ? "danger" : ""),
      stat("Dead-lettered", c.dead || 0, c.dead ? "danger" : ""),
      stat("Last successful delivery", d.lastSuccessAt ? when(d.lastSuccessAt) : "Not yet", "", true),
      stat("Jira points left this hour", b.pointsRemaining == null ? "Not reported yet" : b.pointsRemaining.toLocaleString() + (b.pointsQuota ? " of " + b.pointsQuota.toLocaleString() : ""), b.incidentsOnly ? "danger" : "", b.pointsRemaining == null),
      stat("Requests sent / rate-limited", (b.requests || 0).toLocaleString() + " / " + (b.throttled || 0).toLocaleString())));
    box.append(el("h3", {}, "Rejected by Jira"));
    box.append(messagesTable(d.failed, "Nothing was rejected. Jira accepted everything it was sent."));
    box.append(el("h3", { class: "spaced" }, "Dead-lettered"));
    box.append(messagesTable(d.dead, "No dead letters. Messages that keep failing after every retry appear here."));
    document.getElementById("requeue").disabled = !(c.failed || c.dead);
  }

  function stat(label, value, kind, small) {
    return el("div", { class: "stat " + (kind || "") },
      el("div", { class: "stat-label" }, label),
      el("div", { class: "stat-value" + (small ? " small-value" : "") }, value));
  }

  function messagesTable(rows, emptyText) {
    if (!rows.length) return el("p", { class: "empty-inline" }, emptyText);
    return el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Entity"), el("th", { scope: "col", class: "hide-narrow" }, "Kind"),
        el("th", { scope: "col" }, "Jira's message"), el("th", { scope: "col", class: "hide-narrow num" }, "Attempts"))),
      el("tbody", {}, rows.map((m) => el("tr", {},
        el("td", {}, m.entity, el("div", { class: "subtlest small" }, m.entityId)),
        el("td", { class: "hide-narrow" }, el("span", { class: "lozenge" }, m.kind.replace("_", " ")), " ", m.operation),
        el("td", { class: "error-text" }, m.error || "—"),
        el("td", { class: "hide-narrow num" }, m.attempts))))));
  }

  // ── actions ───────────────────────────────────────────────────────────────────────────────

  async function load() {
    try {
      const data = await api("GET", "/overview");
      state.workspaces = data.workspaces;
      state.delivery = data.delivery;
      renderWorkspaces();
      renderDelivery();
    } catch (e) {
      for (const id of ["workspaces", "delivery"]) {
        const box = document.getElementById(id);
        box.removeAttribute("aria-busy");
        box.replaceChildren(message("error", "Could not load this section", el("p", {}, e.message),
          el("button", { class: "button default", type: "button", onclick: () => load() }, "Try again")));
      }
    }
    if (window.AP && AP.resize) AP.resize();
  }

  async function refreshDelivery() {
    state.delivery = await api("GET", "/delivery");
    renderDelivery();
    return state.delivery;
  }

  document.getElementById("create-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const input = form.elements.name;
    if (!input.value.trim()) { fieldError(form, input, "Give the workspace a name."); return; }
    fieldError(form, input, null);
    busy(form.querySelector("button"), async () => {
      try {
        const data = await api("POST", "/workspaces", { name: input.value.trim() });
        input.value = "";
        revealed = message("success", "Workspace “" + data.workspace.name + "” created and linked",
          el("p", {}, "Copy these now: they are shown only this once."),
          secret("API key (for the operations API)", data.apiKey, "new-api-key"),
          secret("Link code (to link the workspace to another Jira site)", data.linkCode, "new-link-code"));
        await load();
        document.getElementById("new-api-key").focus();
      } catch (err) { fieldError(form, input, err.message); }
    });
  });

  document.getElementById("link-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const input = form.elements.linkCode;
    if (!input.value.trim()) { fieldError(form, input, "Paste the workspace's link code."); return; }
    fieldError(form, input, null);
    busy(form.querySelector("button"), async () => {
      try {
        const data = await api("POST", "/workspaces/link", { linkCode: input.value.trim() });
        input.value = "";
        revealed = null;
        flag("success", "Workspace linked", "“" + data.workspace.name + "” now shows in this Jira site.");
        await load();
      } catch (err) { fieldError(form, input, err.message); }
    });
  });

  function confirmUnlink(ws) {
    const dialog = document.getElementById("unlink-dialog");
    document.getElementById("unlink-name").textContent = "“" + ws.name + "”";
    dialog.returnValue = "";
    dialog.onclose = async () => {
      if (dialog.returnValue !== "confirm") return;
      try {
        await api("DELETE", "/workspaces/" + encodeURIComponent(ws.id));
        revealed = null;
        flag("success", "Workspace unlinked", "Jira is removing the incidents and components of “" + ws.name + "”.");
        await load();
      } catch (err) { flag("error", "Could not unlink the workspace", err.message); }
    };
    dialog.showModal();
    dialog.querySelector("[value=cancel]").focus();
  }

  async function createIntegration(ws, form, input, button) {
    if (!input.value.trim()) { fieldError(form, input, "Give the integration a name."); return; }
    fieldError(form, input, null);
    await busy(button, async () => {
      try {
        const data = await api("POST", "/workspaces/" + encodeURIComponent(ws.id) + "/integrations", { name: input.value.trim() });
        revealed = integrationSecret("Integration “" + data.integration.name + "” created", data);
        await load();
        document.getElementById("integration-key").focus();
      } catch (err) { fieldError(form, input, err.message); }
    });
  }

  async function rotateKey(ws, integration, button) {
    await busy(button, async () => {
      try {
        const data = await api("POST", "/workspaces/" + encodeURIComponent(ws.id) + "/integrations/" + encodeURIComponent(integration.id) + "/rotate-key");
        revealed = integrationSecret("Key of “" + data.integration.name + "” rotated", data,
          "The old key stopped working. Update the monitoring tool with the new one.");
        await load();
        document.getElementById("integration-key").focus();
      } catch (err) { flag("error", "Could not rotate the key", err.message); }
    });
  }

  async function newLinkCode(ws, button) {
    await busy(button, async () => {
      try {
        const data = await api("POST", "/workspaces/" + encodeURIComponent(ws.id) + "/link-code");
        const hours = Math.round(data.expiresIn / 3600);
        revealed = message("success", "Link code for “" + ws.name + "”",
          el("p", {}, "It links this workspace to one more Jira site, once, within " + hours + " hour" + (hours === 1 ? "" : "s") +
            ". Earlier unused codes stopped working. Copy it now: it is shown only this once."),
          secret("One-time link code", data.linkCode, "issued-link-code"));
        await load();
        document.getElementById("issued-link-code").focus();
      } catch (err) { flag("error", "Could not make a link code", err.message); }
    });
  }

  function integrationSecret(title, data, note) {
    return message("success", title,
      el("p", {}, note || "Send alerts to the ingestion URL with this key. Copy the key now: it is shown only this once."),
      secret("Ingestion URL", data.integration.ingestionUrl, "integration-url"),
      secret("Integration key (Authorization: GenieKey …)", data.apiKey, "integration-key"));
  }

  document.getElementById("requeue").addEventListener("click", async (e) => {
    const button = e.currentTarget;
    button.disabled = true; // renderDelivery decides afterwards whether anything is left to re-queue
    try {
      const data = await api("POST", "/delivery/requeue");
      flag("success", "Re-queued " + data.requeued + " message" + (data.requeued === 1 ? "" : "s"), "They are sent to Jira again.");
      await refreshDelivery();
    } catch (err) {
      button.disabled = false;
      flag("error", "Could not re-queue", err.message);
    }
  });

  document.getElementById("resync").addEventListener("click", (e) => {
    const button = e.currentTarget;
    button.disabled = true;
    (async () => {
      try {
        const data = await api("POST", "/delivery/resync");
        const parts = data.steps.map((s) => s.count + " " + s.label).join(", ");
        trackResync(data.total, parts, button);
      } catch (err) {
        button.disabled = false;
        flag("error", "Could not start the resync", err.message);
      }
    })();
  });

  function trackResync(total, parts, button) {
    const block = document.getElementById("resync-progress");
    const bar = block.querySelector(".progress");
    const text = document.getElementById("resync-text");
    block.hidden = false;
    bar.classList.remove("done");
    const started = Date.now();
    const update = async () => {
      let d;
      try { d = await refreshDelivery(); } catch (err) { d = state.delivery; }
      const waiting = d ? (d.counts.pending || 0) + (d.counts.sending || 0) : total;
      const sent = Math.max(0, total - Math.min(total, waiting));
      const pct = total ? Math.round((100 * sent) / total) : 100;
      bar.querySelector(".progress-bar").style.width = pct + "%";
      bar.setAttribute("aria-valuenow", String(pct));
      if (!waiting || !total) {
        text.textContent = "Resync complete: " + total + " messages delivered (" + parts + ").";
        bar.classList.add("done");
        button.disabled = false;
        clearTimeout(resyncTimer);
        return;
      }
      text.textContent = "Resync: " + sent + " of " + total + " delivered (" + parts + ")";
      if (d && d.paused) {
        text.textContent += " — paused, see below";
        button.disabled = false;
        return;
      }
      if (Date.now() - started > 10 * 60 * 1000) { button.disabled = false; return; }
      resyncTimer = setTimeout(update, 1000);
    };
    text.textContent = "Resync: " + total + " messages enqueued (" + parts + ")";
    clearTimeout(resyncTimer);
    update();
  }

  load();
})();
