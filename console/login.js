// The console's login: the name and password go to /api/login once; a session cookie comes back.

const form = document.getElementById('login');
const said = document.getElementById('said');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  said.hidden = true;
  const body = JSON.stringify({ name: form.name.value, password: form.password.value });
  const answer = await fetch('api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  if (answer.ok) {
    location.href = './';
    return;
  }
  const text = await answer.json().then((j) => j.error).catch(() => answer.statusText);
  said.textContent = text;
  said.hidden = false;
  form.password.value = '';
  form.password.focus();
});
