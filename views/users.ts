/**
 * The users page (admins): accounts, their groups, and what each group may do.
 */
import { GROUP_TEXT, GROUPS, PERMISSION_TEXT, PERMISSIONS, type Group, type Permission } from "../src/accounts/permissions.ts";
import type { User } from "../src/accounts/users.ts";
import { html, type Html } from "./html.ts";
import { layout, type PageSession } from "./layout.ts";

export interface UsersView {
  session: PageSession;
  users: User[];
  groups: { key: Group; permissions: Permission[] }[];
  message?: string;
  error?: string;
}

export function usersPage(v: UsersView): Html {
  const csrf = html`<input type="hidden" name="_csrf" value="${v.session.csrf}">`;
  return layout(
    "Users",
    html`<section class="card">
  <h1>Users</h1>
  ${v.error ? html`<p class="form-error" role="alert">${v.error}</p>` : ""}
  ${v.message ? html`<p class="toast info" role="status">${v.message}</p>` : ""}
  <table class="list users"><thead><tr><th>Name</th><th>Group</th><th>Password</th><th></th></tr></thead><tbody>
${v.users.map((u) => html`<tr data-user="${u.name}"><td>${u.name}</td>
<td><form method="post" action="/users/${u.id}/group">${csrf}<select name="group">${GROUPS.filter((g) => g !== "guests").map((g) => html`<option value="${g}" ${g === u.group ? "selected" : ""}>${GROUP_TEXT[g].name}</option>`)}</select> <button type="submit">Set</button></form></td>
<td><form method="post" action="/users/${u.id}/password">${csrf}<input name="password" type="password" minlength="8" placeholder="new password" required autocomplete="new-password"> <button type="submit">Set</button></form></td>
<td><form method="post" action="/users/${u.id}/logout">${csrf}<button type="submit">Log out everywhere</button></form>
<form method="post" action="/users/${u.id}/remove" onsubmit="return confirm('Remove this user? Their API keys stop working.')">${csrf}<button type="submit" class="danger">Remove</button></form></td></tr>`)}
</tbody></table>
  <h2>Add a user</h2>
  <form method="post" action="/users" class="inline">
    ${csrf}
    <input name="username" required placeholder="name" autocomplete="off">
    <input name="password" type="password" required minlength="8" placeholder="password" autocomplete="new-password">
    <select name="group">${GROUPS.filter((g) => g !== "guests").map((g) => html`<option value="${g}" ${g === "users" ? "selected" : ""}>${GROUP_TEXT[g].name}</option>`)}</select>
    <button type="submit" class="primary">Add</button>
  </form>
  <h2>Groups</h2>
  <p class="muted">Admins may do everything. Guests are people who are not logged in (by default they see nothing).</p>
  ${v.groups.filter((g) => g.key !== "admins").map((g) => html`<form method="post" action="/groups/${g.key}" class="group" data-group="${g.key}">
    ${csrf}
    <h3>${GROUP_TEXT[g.key].name}</h3>
    ${PERMISSIONS.filter((p) => p !== "admin").map((p) => html`<label class="check" title="${PERMISSION_TEXT[p]}"><input type="checkbox" name="permissions" value="${p}" ${g.permissions.includes(p) ? "checked" : ""}> ${p}</label> `)}
    <button type="submit">Save</button>
  </form>`)}
</section>`,
    html``,
    v.session,
  );
}
