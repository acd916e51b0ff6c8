// Upload by drag and drop (files or folders) or file pickers: STOW-RS in batches, with progress.

import { getToken } from "./session.js";
import { stowBody } from "./multipart.js";

const $ = (id) => document.getElementById(id);
const BATCH_BYTES = 64 * 1024 * 1024;
const BATCH_FILES = 100;

/** Every file under dropped items, folders walked (webkitGetAsEntry). */
async function droppedFiles(dataTransfer) {
  const entries = [...dataTransfer.items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (entries.length === 0) return [...dataTransfer.files];
  const files = [];
  const walk = async (entry) => {
    if (entry.isFile) {
      files.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  for (const entry of entries) await walk(entry);
  return files;
}

function batches(files) {
  const out = [];
  let current = [];
  let size = 0;
  for (const file of files) {
    if (current.length && (size + file.size > BATCH_BYTES || current.length >= BATCH_FILES)) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(file);
    size += file.size;
  }
  if (current.length) out.push(current);
  return out;
}

/** POST one batch; resolves to {stored, failed}; onProgress(bytes sent). */
function send(files, onProgress) {
  const { body, contentType } = stowBody(files);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/dicomweb/studies");
    xhr.setRequestHeader("Content-Type", contentType);
    xhr.setRequestHeader("Accept", "application/dicom+json");
    xhr.setRequestHeader("Authorization", `Bearer ${getToken()}`);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onerror = () => reject(new Error("network error"));
    xhr.onload = () => {
      let answer = {};
      try {
        answer = JSON.parse(xhr.responseText);
      } catch {
        // no body
      }
      if (xhr.status >= 500 || xhr.status === 401 || xhr.status === 403 || xhr.status === 413 || xhr.status === 415) {
        reject(new Error(answer.message || `HTTP ${xhr.status}`));
        return;
      }
      const stored = answer["00081199"]?.Value?.length || 0;
      const failed = answer["00081198"]?.Value?.length || 0;
      resolve({ stored, failed });
    };
    xhr.send(body);
  });
}

export class Uploader {
  constructor(onDone) {
    this.onDone = onDone;
    const zone = $("dropzone");
    for (const type of ["dragenter", "dragover"]) {
      document.addEventListener(type, (event) => {
        if ($("view-worklist").hidden) return;
        event.preventDefault();
        zone.classList.add("dragging");
      });
    }
    document.addEventListener("dragleave", (event) => {
      if (event.relatedTarget === null) zone.classList.remove("dragging");
    });
    document.addEventListener("drop", async (event) => {
      if ($("view-worklist").hidden) return;
      event.preventDefault();
      zone.classList.remove("dragging");
      this.upload(await droppedFiles(event.dataTransfer));
    });
    for (const id of ["upload-files", "upload-folder"]) {
      $(id).addEventListener("change", (event) => {
        this.upload([...event.target.files]);
        event.target.value = "";
      });
    }
  }

  async upload(files) {
    const wanted = files.filter((f) => f.size > 0 && !f.name.startsWith("."));
    if (wanted.length === 0) return;
    const progress = $("upload-progress");
    const status = $("upload-status");
    const total = wanted.reduce((sum, f) => sum + f.size, 0);
    let done = 0;
    let stored = 0;
    let failed = 0;
    progress.hidden = false;
    progress.value = 0;
    status.textContent = `Sending ${wanted.length} file(s)…`;
    try {
      for (const batch of batches(wanted)) {
        const batchSize = batch.reduce((sum, f) => sum + f.size, 0);
        const outcome = await send(batch, (loaded) => {
          progress.value = Math.min(100, (100 * (done + Math.min(loaded, batchSize))) / total);
        });
        done += batchSize;
        stored += outcome.stored;
        failed += outcome.failed;
      }
      progress.value = 100;
      status.textContent = `Upload finished: ${stored} stored, ${failed} not stored.`;
    } catch (error) {
      status.textContent = `Upload failed: ${error.message} (${stored} stored before it).`;
    }
    this.onDone();
  }
}
