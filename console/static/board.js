// The hall's big screen: takes the board from /board/events (server-sent events) and
// puts each string in place with textContent, never as HTML, so a trade or a town
// holding "<script>" shows as text. EventSource reconnects by itself after a dropped
// stream (the server sends `retry:`); when the server answered with an error instead
// it gives up, so we open a new one.
(function () {
  "use strict";
  const board = document.getElementById("board");
  const lines = document.getElementById("lines");
  const status = document.getElementById("status");
  const RETRY_MS = 2000;
  const COLUMNS = [
    ["trade", (l) => l.trade],
    ["num remaining", (l) => l.remaining + "人"],
    ["num wage", (l) => l.wage],
    ["town", (l) => l.town],
    ["start", (l) => l.start],
    ["num days", (l) => l.days + "天"],
    ["code", (l) => l.code],
  ];

  function field(data, path) {
    return path.split(".").reduce((value, key) => (value == null ? value : value[key]), data);
  }

  function show(data) {
    for (const el of board.querySelectorAll("[data-field]")) {
      const value = field(data, el.dataset.field);
      if (value != null) el.textContent = value;
    }
    const rows = data.lines.map((line) => {
      const tr = document.createElement("tr");
      for (const [cls, text] of COLUMNS) {
        const td = document.createElement("td");
        td.className = cls;
        td.textContent = text(line);
        tr.appendChild(td);
      }
      return tr;
    });
    lines.replaceChildren(...rows);
    document.getElementById("empty").hidden = data.lines.length > 0;
    document.getElementById("more").hidden = !data.more;
  }

  function connect() {
    const source = new EventSource(board.dataset.events);
    source.onopen = () => { status.hidden = true; board.classList.remove("reconnecting"); };
    source.onmessage = (event) => {
      status.hidden = true;
      board.classList.remove("reconnecting");
      show(JSON.parse(event.data));
    };
    source.onerror = () => {
      status.hidden = false;
      board.classList.add("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, RETRY_MS);
      }
    };
  }

  connect();
})();
