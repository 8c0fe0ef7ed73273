"""Drives the operator console in a real headless Chromium, as an operator and then a viewer would.

Run by Tests/GatewayIntegrationTests/BrowserTests.swift, which starts the mocks and a gateway with
its console, and checks at the mock centre what this walk did. Argument: a JSON file with
base, operator, viewer, adapter_file, fixed_text, screenshots. Prints one line per step; exits 1
with the reason at the first step that does not look as it should.
"""

import json
import pathlib
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

config = json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8"))
base = config["base"]
shots = pathlib.Path(config["screenshots"])
shots.mkdir(parents=True, exist_ok=True)

options = Options()
options.binary_location = "/usr/bin/chromium"
for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1400", "--lang=vi"]:
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(60)


def fail(message):
    driver.save_screenshot(str(shots / "failure.png"))
    print("FAILED: " + message + "\n--- page ---\n" + driver.page_source[:4000], flush=True)
    driver.quit()
    sys.exit(1)


def expect(condition, message):
    if not condition:
        fail(message)


def shot(name):
    # The whole page, not only the window: the guide shows them.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(800, min(height + 40, 6000)))
    driver.save_screenshot(str(shots / f"{name}.png"))
    driver.set_window_size(1280, 1400)
    print(f"step {name}: {driver.title}", flush=True)


def wait_for(condition, message, seconds=15):
    """Until `condition()` holds: a click's navigation may still be under way when click() returns."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if condition():
                return
        except Exception:
            pass
        time.sleep(0.1)
    fail(message)


def h1():
    return driver.find_element(By.TAG_NAME, "h1").text


def login(account):
    driver.get(base + "/")
    expect("/login" in driver.current_url, "a page without a session sends to the login")
    driver.find_element(By.ID, "login-user").send_keys(account["name"])
    driver.find_element(By.ID, "login-password").send_keys(account["password"])
    driver.find_element(By.ID, "login-submit").click()
    wait_for(lambda: driver.find_element(By.ID, "user-name").text == account["name"], "signed in as " + account["name"])


driver.get(base + "/")
shot("01-dang-nhap-login")
login(config["operator"])
expect(h1() == "Tổng quan", "the overview is in Vietnamese")
for name in ["dvc-portal", "qlvb-documents"]:
    expect(driver.find_elements(By.LINK_TEXT, name), f"the overview lists {name}")
dead = int(driver.find_element(By.ID, "outbox-dead").text)
expect(dead > 0, "the overview counts the dead letters")
shot("02-tong-quan-overview")

driver.get(base + "/quarantine?adapter=dvc-portal")
rows = driver.find_elements(By.CSS_SELECTOR, "#quarantine-records tbody tr")
expect(len(rows) > 0, "the portal's quarantined records are listed")
expect("HS_TRUC_TUYEM" in driver.page_source, "the broken mapping's indicator shows")
shot("03-cach-ly-quarantine")
rows[0].find_element(By.CSS_SELECTOR, "td:nth-child(2) a").click()
wait_for(lambda: driver.find_elements(By.ID, "record"), "a record's page shows the record")
shot("04-ban-ghi-record")

driver.get(base + "/dead-letters")
letters = driver.find_elements(By.CSS_SELECTOR, "#dead-letters tbody tr")
expect(len(letters) == dead, f"{dead} dead letters listed, found {len(letters)}")
shot("05-thu-chet-dead-letters")

# The operator fixes the adapter file, reloads, and reprocesses what the mistake quarantined.
pathlib.Path(config["adapter_file"]).write_text(config["fixed_text"], encoding="utf-8")
driver.get(base + "/")
driver.find_element(By.ID, "reload").click()
wait_for(lambda: "Đã nạp lại cấu hình" in driver.find_element(By.ID, "notice").text, "the reload is confirmed")
driver.get(base + "/quarantine?adapter=dvc-portal")
driver.find_element(By.ID, "reprocess-all").click()
wait_for(lambda: "dvc-portal" in driver.find_element(By.ID, "reprocess-result").text, "the reprocessing result names the adapter")
shot("06-xu-ly-lai-reprocessed")
print("reprocessed: " + " ".join(cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#reprocess-result td")), flush=True)

driver.get(base + "/dead-letters")
for box in driver.find_elements(By.CSS_SELECTOR, "#dead-letters input[type=checkbox]"):
    box.click()
driver.find_element(By.ID, "retry-selected").click()
wait_for(lambda: driver.find_elements(By.ID, "confirm-form"), "a retry asks for confirmation")
shot("07-xac-nhan-confirm")
driver.find_element(By.ID, "confirm-yes").click()
wait_for(lambda: f"Đã đưa lại vào hàng đợi: {dead}" in driver.find_element(By.ID, "notice").text, "the retry is confirmed")

deadline = time.time() + 30
while time.time() < deadline:
    driver.get(base + "/")
    if driver.find_element(By.ID, "outbox-pending").text == "0" and driver.find_element(By.ID, "outbox-dead").text == "0":
        break
    time.sleep(0.5)
expect(driver.find_element(By.ID, "outbox-dead").text == "0", "no dead letter is left")

for path, name in [("/calendar", "08-lich-calendar"), ("/progress", "09-tien-do-progress"), ("/audit?verify=1", "10-kiem-toan-audit")]:
    driver.get(base + path)
    shot(name)
expect("Chuỗi nguyên vẹn" in driver.find_element(By.ID, "audit-result").text, "the audit chain holds")
expect("an.nguyen" in driver.find_element(By.ID, "operator-actions").text, "the audit page lists the operator's actions")
driver.get(base + "/adapters/qlvb-documents")
driver.find_element(By.ID, "dry-run").click()
wait_for(lambda: driver.find_elements(By.ID, "dry-run-result"), "a dry run's result shows on the adapter's page")
shot("11-chay-thu-dry-run")

# A viewer reads, and is refused an action even when the form is made by hand.
driver.find_element(By.CSS_SELECTOR, "form[action='/logout'] button").click()
wait_for(lambda: driver.find_elements(By.ID, "login-user"), "signing out ends at the login page")
login(config["viewer"])
expect(not driver.find_elements(By.ID, "reload"), "a viewer sees no reload button")
driver.get(base + "/dead-letters")
driver.execute_script(
    """
    const form = document.createElement('form');
    form.method = 'post'; form.action = '/quarantine/purge';
    for (const [name, value] of [['csrf', document.querySelector('input[name=csrf]').value], ['id', '1'], ['confirmed', '1']]) {
      const input = document.createElement('input'); input.type = 'hidden'; input.name = name; input.value = value; form.appendChild(input);
    }
    document.body.appendChild(form); form.submit();
    """
)
wait_for(lambda: h1() == "Không được phép", "a viewer's action is refused")
shot("12-nguoi-xem-bi-tu-choi-viewer-refused")

driver.get(base + "/")
driver.find_element(By.ID, "lang-switch").click()
wait_for(lambda: h1() == "Overview", "the switch gives English")
shot("13-english")
print("ok", flush=True)
driver.quit()
