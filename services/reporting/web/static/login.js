// Sign-in: keeps the pasted token, checks it against the API, then goes back to the page that asked (same site only).
document.getElementById("f").addEventListener("submit", async (e) => {
  e.preventDefault();
  localStorage.setItem("baoxue_token", document.getElementById("token").value.trim());
  try { await Baoxue.api("/v1/bi"); } catch (err) { Baoxue.fill("msg", "令牌无效：" + err.message); return; }
  location.href = Baoxue.safeNext(new URLSearchParams(location.search).get("next"));
});
