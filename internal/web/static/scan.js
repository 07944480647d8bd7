// Camera scanning for the clerk's verify page. With the vendored decoder
// (jsQR, served by the hub) frames are decoded here and the text goes to the
// offline verifier, which checks a compact QR locally and sends anything
// else for the online check. Without it, frames go to the hub, which decodes
// them server-side (no decoder from a CDN: the page works on an intranet).
(function () {
  "use strict";
  var start = document.getElementById("start-camera");
  if (!start) { return; }
  var stop = document.getElementById("stop-camera");
  var video = document.getElementById("camera");
  var canvas = document.getElementById("frame");
  var errorBox = document.getElementById("camera-error");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var stream = null, timer = null, busy = false;

  function halt() {
    if (timer) { clearInterval(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    video.hidden = true; stop.hidden = true; start.hidden = false;
  }

  function scanFrame() {
    if (busy || !video.videoWidth) { return; }
    busy = true;
    var scale = Math.min(1, 960 / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    var g = canvas.getContext("2d", { willReadFrequently: true });
    g.drawImage(video, 0, 0, canvas.width, canvas.height);
    if (self.jsQR && self.CertHubOffline) {
      var code = self.jsQR(g.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
      busy = false;
      if (code && code.data) { halt(); self.CertHubOffline.verifyText(code.data); }
      return;
    }
    canvas.toBlob(function (blob) {
      fetch("/verify/scan", { method: "POST", headers: { "X-CSRF-Token": csrf, "Content-Type": "image/jpeg" }, body: blob, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          busy = false;
          if (j.found) {
            halt();
            document.getElementById("scan-text").value = j.text;
            document.getElementById("scan-form").submit();
          }
        })
        .catch(function () { busy = false; });
    }, "image/jpeg", 0.85);
  }

  start.addEventListener("click", function () {
    errorBox.hidden = true;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { errorBox.hidden = false; return; }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (s) {
        stream = s; video.srcObject = s; video.hidden = false; stop.hidden = false; start.hidden = true;
        return video.play();
      })
      .then(function () { timer = setInterval(scanFrame, 400); })
      .catch(function () { halt(); errorBox.hidden = false; });
  });
  stop.addEventListener("click", halt);
})();
