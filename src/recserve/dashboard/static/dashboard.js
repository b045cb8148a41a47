// recserve dashboard: tabs on the user page, confirmations, the experiments form's
// treatment defaults, live training-job progress.
// Plain script, no dependencies; every page works without it, it only adds comfort.
"use strict";

function setupTabs() {
  document.querySelectorAll(".tabs .tab").forEach((tab) => {
    tab.addEventListener("click", () => {
      document.querySelectorAll(".tabs .tab").forEach((t) => {
        t.classList.toggle("active", t === tab);
        t.setAttribute("aria-selected", t === tab ? "true" : "false");
      });
      document.querySelectorAll(".panel").forEach((panel) => {
        panel.classList.toggle("hidden", panel.dataset.scenario !== tab.dataset.tab);
      });
    });
  });
}

function setupConfirms() {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
}

// The experiments form: choosing a scenario preselects a treatment trained for it (the
// server's choice per scenario, in the form's data-defaults).
function setupTreatmentDefaults() {
  const form = document.getElementById("define-experiment");
  if (!form) return;
  const defaults = JSON.parse(form.dataset.defaults || "{}");
  const scenario = form.querySelector("select[name=scenario]");
  const treatment = form.querySelector("select[name=treatment]");
  scenario.addEventListener("change", () => {
    if (defaults[scenario.value]) treatment.value = defaults[scenario.value];
  });
}

// Poll each queued or running job's status (the same JSON as GET /v1/jobs/{id}) and move
// its progress bar; reload once every polled job has finished, to show the results.
function pollJobs() {
  const rows = Array.from(document.querySelectorAll("tr.job[data-poll]"));
  if (!rows.length) return;
  let pending = rows.length;
  rows.forEach((row) => {
    const tick = async () => {
      let job;
      try {
        const response = await fetch(row.dataset.poll, { credentials: "same-origin" });
        if (!response.ok) throw new Error(String(response.status));
        job = await response.json();
      } catch (err) {
        setTimeout(tick, 3000);
        return;
      }
      row.dataset.status = job.status;
      row.querySelector(".fill").style.width = (job.progress * 100).toFixed(1) + "%";
      row.querySelector(".step").textContent = job.step || "";
      const badge = row.querySelector(".status");
      badge.textContent = job.status;
      badge.className = "tag status status-" + job.status;
      if (job.status === "queued" || job.status === "running") {
        setTimeout(tick, 700);
      } else if (--pending === 0) {
        setTimeout(() => window.location.assign(window.location.pathname), 400);
      }
    };
    tick();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupTabs();
  setupConfirms();
  setupTreatmentDefaults();
  pollJobs();
});
