// The visible canvas: zoom, pan and fit of the current frame, the heatmap over it, measurements.

export class View {
  constructor(canvas) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.scale = 1;
    this.offsetX = 0;
    this.offsetY = 0;
    this.fitted = true;
  }

  /** Match the backing store to the element's size (device pixels); true when it changed. */
  resize() {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(this.canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round(this.canvas.clientHeight * ratio));
    if (this.canvas.width === width && this.canvas.height === height) return false;
    this.canvas.width = width;
    this.canvas.height = height;
    return true;
  }

  /** Scale and centre an image of columns x rows inside the canvas. */
  fit(columns, rows) {
    this.scale = Math.min(this.canvas.width / columns, this.canvas.height / rows);
    this.offsetX = (this.canvas.width - columns * this.scale) / 2;
    this.offsetY = (this.canvas.height - rows * this.scale) / 2;
    this.fitted = true;
  }

  /** Zoom by factor around a canvas point (device pixels). */
  zoomAt(factor, x, y) {
    const scale = Math.min(64, Math.max(0.05, this.scale * factor));
    const applied = scale / this.scale;
    this.offsetX = x - (x - this.offsetX) * applied;
    this.offsetY = y - (y - this.offsetY) * applied;
    this.scale = scale;
    this.fitted = false;
  }

  panBy(dx, dy) {
    this.offsetX += dx;
    this.offsetY += dy;
    this.fitted = false;
  }

  /** Canvas point (CSS pixels from an event) to image coordinates (fractional column, row). */
  toImage(clientX, clientY) {
    const box = this.canvas.getBoundingClientRect();
    const ratio = this.canvas.width / Math.max(1, box.width);
    const x = (clientX - box.left) * ratio;
    const y = (clientY - box.top) * ratio;
    return { x: (x - this.offsetX) / this.scale, y: (y - this.offsetY) / this.scale };
  }

  toCanvas(point) {
    return { x: point.x * this.scale + this.offsetX, y: point.y * this.scale + this.offsetY };
  }

  /** Draw a frame's canvas, then its segmentation layers, the heatmap (over the whole image) and the measurement. */
  draw(frame, overlay, measure, segmentation = null) {
    const ctx = this.context;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (!frame) return;
    const { columns, rows } = frame.instance;
    ctx.imageSmoothingEnabled = this.scale < 1;
    ctx.setTransform(this.scale, 0, 0, this.scale, this.offsetX, this.offsetY);
    ctx.drawImage(frame.canvas, 0, 0, columns, rows);
    if (segmentation && segmentation.opacity > 0) {
      ctx.globalAlpha = segmentation.opacity;
      ctx.imageSmoothingEnabled = false; // labels are voxels: crisp edges, no blended colours
      for (const layer of segmentation.canvases) ctx.drawImage(layer, 0, 0, columns, rows);
      ctx.globalAlpha = 1;
    }
    if (overlay && overlay.image && overlay.visible && overlay.opacity > 0) {
      ctx.globalAlpha = overlay.opacity;
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(overlay.image, 0, 0, columns, rows);
      ctx.globalAlpha = 1;
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    if (measure && measure.a && measure.b) this.drawMeasure(measure);
  }

  drawMeasure(measure) {
    const ctx = this.context;
    const a = this.toCanvas(measure.a);
    const b = this.toCanvas(measure.b);
    ctx.strokeStyle = "#ffd400";
    ctx.fillStyle = "#ffd400";
    ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
    if (measure.label) {
      ctx.font = `${14 * (window.devicePixelRatio || 1)}px system-ui, sans-serif`;
      ctx.fillText(measure.label, b.x + 8, b.y - 8);
    }
  }
}
