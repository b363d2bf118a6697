// 密云法治服务助手 web chat: plain JS, no dependencies, text inserted with textContent only.
(function () {
  "use strict";
  var FALLBACK = "抱歉，系统暂时无法回答。法律咨询请拨打12348公共法律服务热线；也可以到所在镇街的公共法律服务站当面咨询。";
  var log = document.getElementById("log");
  var form = document.getElementById("form");
  var input = document.getElementById("input");
  var sendBtn = document.getElementById("send");
  var statusEl = document.getElementById("status");
  var session = null;
  var busy = false;
  try { session = window.sessionStorage.getItem("miyun_session"); } catch (e) { session = null; }

  function add(cls, text) {
    var div = document.createElement("div");
    div.className = "msg " + cls;
    if (text) { var p = document.createElement("p"); p.textContent = text; div.appendChild(p); }
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  function render(messages) {
    (messages || []).forEach(function (m) {
      var div = add("bot", m.text || "");
      if (m.image && /^https?:\/\//i.test(m.image)) {
        var img = document.createElement("img");
        img.src = m.image; img.alt = "图片"; img.loading = "lazy";
        div.appendChild(img);
      }
      if (m.document && m.document.links && m.document.links.length) {
        // Links to the generated document: same-origin only, bound to this chat session by a cookie.
        var box = document.createElement("div");
        box.className = "document";
        var title = document.createElement("p");
        title.textContent = "📄 " + (m.document.title || "文书");
        box.appendChild(title);
        m.document.links.forEach(function (l) {
          if (!/^\/documents\/[A-Za-z0-9_-]+\/(pdf|docx)$/.test(l.url || "")) { return; }
          var a = document.createElement("a");
          a.href = l.url; a.textContent = l.label; a.className = "download"; a.setAttribute("download", "");
          box.appendChild(a);
        });
        div.appendChild(box);
      }
      if (m.buttons && m.buttons.length) {
        var group = document.createElement("div");
        group.className = "choices";
        group.setAttribute("role", "group");
        group.setAttribute("aria-label", "可选项");
        m.buttons.forEach(function (b) {
          var btn = document.createElement("button");
          btn.type = "button";
          btn.className = "choice";
          btn.textContent = b.title;
          btn.addEventListener("click", function () { send(b.payload, b.title); });
          group.appendChild(btn);
        });
        div.appendChild(group);
      }
    });
    log.scrollTop = log.scrollHeight;
  }

  function setBusy(on) {
    busy = on;
    sendBtn.disabled = on;
    statusEl.textContent = on ? "正在查询，请稍候…" : "";
  }

  function send(message, shown) {
    if (busy) { return; }
    add("me", shown || message);
    setBusy(true);
    var ctrl = ("AbortController" in window) ? new AbortController() : null;
    var timer = ctrl ? setTimeout(function () { ctrl.abort(); }, 20000) : null;
    fetch("/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session: session, message: message }),
      signal: ctrl ? ctrl.signal : undefined
    }).then(function (r) {
      if (!r.ok && r.status !== 429) { throw new Error("HTTP " + r.status); }  // 429 carries its polite text
      return r.json();
    }).then(function (data) {
      if (data.session) {
        session = data.session;
        try { window.sessionStorage.setItem("miyun_session", session); } catch (e) { /* private mode */ }
      }
      render(data.messages && data.messages.length ? data.messages : [{ text: FALLBACK }]);
    }).catch(function () {
      render([{ text: FALLBACK }]);
    }).then(function () {
      if (timer) { clearTimeout(timer); }
      setBusy(false);
      input.focus();
    });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value;
    if (!text.trim() || busy) { input.focus(); return; }
    input.value = "";
    send(text);
  });
  input.focus();
})();
