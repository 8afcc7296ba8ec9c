"""What a person does in JupyterLab, as Playwright steps: log in, open nbgrader's assignment list,
fetch, open a notebook, type into a cell, run it, read its output, Validate, submit.

Selectors are JupyterLab 4's and nbgrader 0.9's own (class names, button texts); each helper
waits for what a person would wait for (a spinner to end, an output to appear), never a fixed
sleep, and fails with what the page showed instead.
"""
from __future__ import annotations

import pathlib
import re

from playwright.sync_api import Page, expect

LONG = 180_000  # ms: a server's first start, a kernel's first import of numpy/keras on 2 cores


def log_in(page: Page, hub_url: str, user: str, password: str) -> None:
    """Through the hub's login form, until the user's JupyterLab has loaded (whoever was logged
    in before in this browser is forgotten first: its cookies are cleared)."""
    page.context.clear_cookies()
    page.goto(f"{hub_url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf".*/user/{re.escape(user)}/lab.*"), timeout=LONG)
    page.wait_for_selector(".jp-LauncherCard, .jp-NotebookPanel", timeout=LONG)


def command(page: Page, label: str) -> None:
    """Run a JupyterLab command by its label, from the command palette."""
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette-input")
    palette.fill(label)
    page.locator(".lm-CommandPalette-item.lm-mod-active", has_text=label).wait_for(timeout=LONG)
    palette.press("Enter")


def menu(page: Page, top: str, item: str) -> None:
    """Click a menu bar entry, then one of its items."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(top)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$")).first.click()


def open_assignments(page: Page) -> None:
    """nbgrader's assignment list, loaded (its spinner gone)."""
    menu(page, "Nbgrader", "Assignment List")
    page.wait_for_selector("#released_assignments_list", timeout=LONG)
    page.wait_for_selector("#released_assignments_list_loading", state="hidden", timeout=LONG)


def fetch(page: Page, lab: str) -> None:
    row = page.locator("#released_assignments_list .list_item", has_text=lab)
    row.get_by_role("button", name="Fetch").click()
    expect(page.locator("#fetched_assignments_list .list_item", has_text=lab)).to_be_visible(timeout=LONG)


def open_notebook(page: Page, user: str, path: str) -> None:
    """Open `path` (relative to the home) in JupyterLab, its kernel idle."""
    page.goto(re.sub(r"/lab.*$", "", page.url) + f"/lab/tree/{path}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=LONG)
    wait_idle(page)


def wait_idle(page: Page, timeout: int = LONG) -> None:
    """Until the kernel status says Idle (the toolbar's indicator)."""
    page.wait_for_function(
        "() => { const s = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');"
        " return s && s.getAttribute('data-status') === 'idle'; }", timeout=timeout)


def cell(page: Page, index: int):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)


def set_code(page: Page, index: int, code: str) -> None:
    """Replace the text of code cell `index`, as typing would."""
    editor = cell(page, index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(code)
    page.keyboard.press("Escape")


def run_through(page: Page, index: int) -> str:
    """Run every cell from the top through cell `index`; return that cell's output text."""
    cell(page, index).locator(".jp-InputPrompt").click()
    menu(page, "Run", "Run All Above Selected Cell")
    wait_idle(page)
    cell(page, index).locator(".jp-InputPrompt").click()
    page.keyboard.press("Control+Enter")
    page.wait_for_timeout(300)
    wait_idle(page)
    return cell(page, index).locator(".jp-OutputArea").inner_text()


def screenshot(page: Page, folder: pathlib.Path, name: str) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def show_output(page: Page, index: int) -> None:
    """Scroll so that cell `index`'s output is on screen (for the screenshot)."""
    cell(page, index).locator(".jp-OutputArea").scroll_into_view_if_needed()


def set_markdown(page: Page, index: int, text: str) -> None:
    """Replace the text of markdown cell `index` and render it."""
    target = cell(page, index)
    target.dblclick()
    editor = target.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)
    page.keyboard.press("Shift+Enter")


def save(page: Page) -> None:
    page.keyboard.press("Escape")
    page.keyboard.press("Control+S")
    page.wait_for_function(
        "() => !document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-mod-dirty, "
        ".lm-TabBar-tab.jp-mod-current.jp-mod-dirty')", timeout=LONG)


def validate(page: Page) -> str:
    """Click the notebook's Validate button; the dialog's text once nbgrader has answered."""
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar").get_by_text("Validate", exact=True).click()
    message = page.locator("#validation-message")
    message.wait_for(timeout=LONG * 2)
    return message.inner_text()


def close_dialog(page: Page) -> None:
    page.locator(".jp-Dialog").get_by_role("button").last.click()
    page.locator(".jp-Dialog").wait_for(state="detached", timeout=LONG)


def submit(page: Page, lab: str) -> None:
    row = page.locator("#fetched_assignments_list .list_item", has_text=lab).first
    row.get_by_role("button", name="Submit").click()
    expect(page.locator("#submitted_assignments_list .list_item", has_text=lab).first).to_be_visible(timeout=LONG)


def fetch_feedback(page: Page, lab: str) -> None:
    """The submitted list's Fetch Feedback button, until its "(view feedback)" link shows."""
    page.locator("#submitted_assignments_list").get_by_role("button", name="Fetch Feedback").first.click()
    expect(page.locator("#submitted_assignments_list").get_by_text("(view feedback)").first).to_be_visible(timeout=LONG)


def open_feedback(page: Page, path: str) -> Page:
    """Click "(view feedback)" (the file browser goes to the feedback folder), then open the
    feedback's HTML file, `path` relative to the home, in a new tab, as "Open in New Browser Tab"
    does; returns that tab."""
    page.locator("#submitted_assignments_list").get_by_text("(view feedback)").first.click()
    page.locator(".jp-DirListing-item", has_text=pathlib.PurePath(path).name).first.wait_for(timeout=LONG)
    tab = page.context.new_page()
    tab.set_viewport_size({"width": 1400, "height": 900})
    tab.goto(re.sub(r"/lab.*$", "", page.url) + f"/files/{path}")
    tab.wait_for_load_state("load")
    return tab


def flagged(row) -> bool:
    """Whether a row of formgrader's gradebook table shows the flag of its "Flagged?" column."""
    return row.locator("td").last.locator(".glyphicon-flag").count() > 0
