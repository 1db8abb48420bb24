// Alerts pushed by the fleet (server-sent events on /api/v1/alerts/stream). Read with
// fetch, not EventSource: EventSource cannot send the bearer token, and a token never
// goes into a URL. While the stream is down the console polls as before; it reconnects
// with Last-Event-ID, so no change is missed.

import { session } from "./api.js";

const RETRY_MS = 3000;

// onEvent(name, data), onState(live: boolean)
export function connectLive({ onEvent, onState }) {
  let stopped = false;
  let controller = null;
  let lastId = null;
  let retryMs = RETRY_MS;

  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const headers = { Accept: "text/event-stream" };
        if (session.token) headers.Authorization = `Bearer ${session.token}`;
        if (lastId !== null) headers["Last-Event-ID"] = lastId;
        const response = await fetch("/api/v1/alerts/stream", {
          headers,
          cache: "no-store",
          credentials: "omit",
          signal: controller.signal,
        });
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        await read(response.body.getReader());
      } catch (exc) {
        if (stopped) return;
        console.info("console: live updates paused, polling instead:", exc.message || exc);
      }
      onState(false);
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  }

  // The event-stream format: fields up to a blank line make one event.
  async function read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    let event = { name: "message", data: [], id: null };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.search(/\r?\n/)) >= 0) {
        const line = buffer.slice(0, cut);
        buffer = buffer.slice(cut + (buffer[cut] === "\r" ? 2 : 1));
        if (line === "") {
          if (event.data.length) dispatch(event);
          event = { name: "message", data: [], id: null };
          continue;
        }
        if (line.startsWith(":")) continue; // keep-alive comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.name = text;
        else if (field === "data") event.data.push(text);
        else if (field === "id") event.id = text;
        else if (field === "retry" && /^\d+$/.test(text)) retryMs = Number(text);
      }
    }
  }

  function dispatch(event) {
    if (event.id !== null) lastId = event.id;
    let data;
    try {
      data = JSON.parse(event.data.join("\n"));
    } catch {
      return;
    }
    if (event.name === "ready") onState(true);
    onEvent(event.name, data);
  }

  run();
  return {
    stop() {
      stopped = true;
      if (controller) controller.abort();
      onState(false);
    },
  };
}
