// Pointer and keyboard input on the viewer: the selected tool on drag, slices on wheel and keys.

const SLICE_KEYS = { ArrowUp: -1, ArrowDown: 1, ArrowLeft: -1, ArrowRight: 1, PageUp: -10, PageDown: 10 };
const TOOL_KEYS = { w: "window", p: "pan", z: "zoom", m: "measure" };
const PRESET_KEYS = { 1: "lung", 2: "bone", 3: "soft", 4: "brain" };

function dragTool(viewer, event) {
  if (event.button === 1 || event.shiftKey) return "pan";
  if (event.button === 2 || event.ctrlKey) return "zoom";
  return viewer.tool;
}

export function bindPointer(viewer) {
  const canvas = viewer.view.canvas;
  let drag = null;
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("pointerdown", (event) => {
    if (!viewer.frame) return;
    canvas.setPointerCapture(event.pointerId);
    canvas.focus();
    const tool = dragTool(viewer, event);
    drag = { tool, x: event.clientX, y: event.clientY, window: { ...viewer.window }, start: viewer.view.toImage(event.clientX, event.clientY) };
  });
  canvas.addEventListener("pointermove", (event) => {
    const point = viewer.view.toImage(event.clientX, event.clientY);
    viewer.describePoint(point);
    if (!drag || !viewer.frame) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    const ratio = window.devicePixelRatio || 1;
    if (drag.tool === "window") {
      const sensitivity = Math.max(drag.window.width, 1) / 256;
      viewer.setWindow(drag.window.center + dy * sensitivity, drag.window.width + dx * sensitivity);
    } else if (drag.tool === "pan") {
      viewer.view.panBy((event.clientX - drag.x) * ratio, (event.clientY - drag.y) * ratio);
      drag.x = event.clientX;
      drag.y = event.clientY;
      viewer.redraw();
    } else if (drag.tool === "zoom") {
      const box = canvas.getBoundingClientRect();
      viewer.view.zoomAt(Math.exp(-(event.clientY - drag.y) / 200), (drag.x - box.left) * ratio, (drag.y - box.top) * ratio);
      drag.y = event.clientY;
      viewer.redraw();
    } else if (drag.tool === "measure") {
      viewer.setMeasure(drag.start, point);
    }
  });
  const end = () => { drag = null; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    if (event.ctrlKey) {
      const box = canvas.getBoundingClientRect();
      const ratio = window.devicePixelRatio || 1;
      viewer.view.zoomAt(event.deltaY < 0 ? 1.1 : 1 / 1.1, (event.clientX - box.left) * ratio, (event.clientY - box.top) * ratio);
      viewer.redraw();
    } else {
      viewer.step(Math.sign(event.deltaY));
    }
  }, { passive: false });
}

function typing(event) {
  const tag = event.target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || event.target.isContentEditable;
}

export function bindKeys(viewer) {
  document.addEventListener("keydown", (event) => {
    if (document.getElementById("view-viewer").hidden || typing(event) || event.altKey || event.metaKey || event.ctrlKey) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    let handled = true;
    if (key in SLICE_KEYS) viewer.step(SLICE_KEYS[key]);
    else if (key === "Home") viewer.showSlice(0);
    else if (key === "End") viewer.showSlice(Number.MAX_SAFE_INTEGER);
    else if (key in TOOL_KEYS) viewer.setTool(TOOL_KEYS[key]);
    else if (key in PRESET_KEYS) viewer.applyPreset(PRESET_KEYS[key]);
    else if (key === " ") viewer.toggleCine();
    else if (key === "f") viewer.fit();
    else if (key === "i") viewer.toggleInvert();
    else if (key === "r") viewer.reset();
    else if (key === "h") viewer.setOverlay({ visible: !viewer.overlay.visible });
    else if (key === "Escape") location.hash = "#worklist";
    else handled = false;
    if (handled) event.preventDefault();
  });
}
