//! A real browser for the browser tests: Debian's `chromedriver` started on a free loopback port (chosen by
//! chromedriver itself, `--port=0`, so no port race), and one headless Chromium session driven over WebDriver
//! (thirtyfour). Each `Browser` has a fresh profile and download folder in a temporary directory; dropping it ends the
//! session and kills chromedriver's whole process group, so no Chromium outlives the test.
//!
//! Chromium may only reach loopback: its host resolver answers every name but `localhost` with NOTFOUND, it uses
//! no proxy, and the background services that call home are off. Tests address the app as `http://127.0.0.1:PORT`.
//!
//! The browser tests are required: without `chromium` and `chromedriver` on PATH they fail, unless
//! `IDR_SKIP_BROWSER_TESTS=1` is set, which skips them with a loud message (`scripts/test` installs both).

use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use thirtyfour::prelude::*;
use thirtyfour::{ChromeCapabilities, LoggingPrefsLogLevel};

/// The phone width the console must work at (an iPhone 12-15 is 390 CSS pixels wide), and a laptop's.
pub const PHONE: (u32, u32) = (390, 844);
pub const DESKTOP: (u32, u32) = (1280, 900);

/// Whether browser tests are skipped (`IDR_SKIP_BROWSER_TESTS=1`); says so loudly on standard error when they are.
pub fn skipped(test: &str) -> bool {
    let skip = std::env::var("IDR_SKIP_BROWSER_TESTS").is_ok_and(|v| !v.is_empty() && v != "0");
    if skip {
        // Straight to stderr: the test harness captures eprintln! of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "\n\n!!! SKIPPED {test}: IDR_SKIP_BROWSER_TESTS is set !!!\n"
        );
    }
    skip
}

/// The first of `names` found on PATH.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Where screenshots go: `$CARGO_TARGET_DIR/screenshots`, else `target/screenshots` in the crate.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("screenshots")
}

/// A file the browser downloaded: the name it chose and the bytes it wrote.
pub struct Download {
    pub name: String,
    pub bytes: Vec<u8>,
}

pub struct Browser {
    driver: Option<WebDriver>,
    chromedriver: Child,
    dir: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium at phone size; `None` when browser tests are skipped
    /// (`IDR_SKIP_BROWSER_TESTS=1`). Panics, naming the fix, when `chromedriver` or `chromium` is missing.
    pub async fn start(test: &str) -> Option<Browser> {
        if skipped(test) {
            return None;
        }
        let chromedriver = on_path(&["chromedriver"]).unwrap_or_else(|| {
            panic!(
                "{test}: chromedriver not found on PATH. The browser tests need Debian's `chromium` and \
                 `chromium-driver` (./scripts/test installs them; or apt-get install -y chromium chromium-driver). \
                 Set IDR_SKIP_BROWSER_TESTS=1 to skip them."
            )
        });
        let chromium =
            on_path(&["chromium", "chromium-browser", "google-chrome"]).unwrap_or_else(|| {
                panic!("{test}: chromium not found on PATH (apt-get install -y chromium)")
            });
        let dir = tempfile::tempdir().expect("browser temp dir");
        std::fs::create_dir(dir.path().join("downloads")).expect("download dir");
        let (child, port) = spawn_chromedriver(&chromedriver, &dir.path().join("chromedriver.log"));
        let mut browser = Browser {
            driver: None,
            chromedriver: child,
            dir,
        };
        let caps = browser.capabilities(&chromium);
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("WebDriver client");
        let driver = WebDriver::builder(format!("http://127.0.0.1:{port}"), caps)
            .client(client)
            .await
            .unwrap_or_else(|e| panic!("{test}: a Chromium session: {e}\n{}", browser.log()));
        browser.driver = Some(driver);
        browser.resize(PHONE).await;
        Some(browser)
    }

    fn capabilities(&self, chromium: &Path) -> ChromeCapabilities {
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&chromium.to_string_lossy())
            .expect("binary");
        let profile = self.dir.path().join("profile");
        let mut args = vec![
            "--headless=new".to_string(),
            format!("--user-data-dir={}", profile.display()),
            format!("--window-size={},{}", PHONE.0, PHONE.1),
            "--force-device-scale-factor=1".into(),
            // A screen larger than the largest window the tests ask for (headless screens are 800x600).
            "--screen-info={0,0 1920x1200}".into(),
            "--hide-scrollbars".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            // Chromium's crash handler leaves the process group: it writes here (not under ~/.config), and this
            // path in its command line tells it apart.
            format!(
                "--crash-dumps-dir={}",
                self.dir.path().join("crashes").display()
            ),
            "--disable-crash-reporter".into(),
            "--lang=en".into(),
            // Loopback only (the tests' network rule), and nothing that calls home.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1".into(),
            "--no-proxy-server".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-default-apps".into(),
            "--disable-extensions".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
        ];
        // Chromium's sandbox refuses to run as root (CI containers); an ordinary user keeps it.
        if is_root() {
            args.push("--no-sandbox".into());
        }
        for arg in &args {
            caps.add_arg(arg).expect("chromium argument");
        }
        // The browser's console errors, for `csp_violations`.
        caps.set_browser_log_level(LoggingPrefsLogLevel::Severe)
            .expect("logging prefs");
        let downloads = self.dir.path().join("downloads");
        caps.add_experimental_option(
            "prefs",
            json!({
                "download.default_directory": downloads.to_string_lossy(),
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
                "intl.accept_languages": "en",
            }),
        )
        .expect("prefs");
        caps
    }

    fn driver(&self) -> &WebDriver {
        self.driver.as_ref().expect("a live session")
    }

    /// chromedriver's log, for failure messages.
    pub fn log(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        format!("chromedriver log, newest first:\n{}", tail.join("\n"))
    }

    /// Sets the viewport (what a page lays out in and a screenshot shows) to `width` × `height` CSS pixels: the
    /// window is resized, then grown by whatever of it is not viewport.
    pub async fn resize(&self, (width, height): (u32, u32)) {
        let (mut outer_w, mut outer_h) = (width, height);
        let mut seen = Vec::new();
        for _ in 0..10 {
            self.driver()
                .set_window_rect(0, 0, outer_w, outer_h)
                .await
                .expect("resize the window");
            let (inner_w, inner_h): (u32, u32) = self
                .script("return [window.innerWidth, window.innerHeight]")
                .await
                .convert()
                .expect("the viewport size");
            seen.push((outer_w, outer_h, inner_w, inner_h));
            if (inner_w, inner_h) == (width, height) {
                return;
            }
            // The window's frame is what is not viewport (the first answer may come before the resize settled).
            outer_w = (outer_w + width).saturating_sub(inner_w).max(width);
            outer_h = (outer_h + height).saturating_sub(inner_h).max(height);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("could not make the viewport {width}x{height}: (window, viewport) sizes {seen:?}");
    }

    pub async fn goto(&self, url: &str) {
        self.driver()
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    pub async fn current_url(&self) -> url::Url {
        self.driver().current_url().await.expect("current URL")
    }

    /// The page's path and query, e.g. `/console/anchors?q=x`.
    pub async fn path(&self) -> String {
        let url = self.current_url().await;
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// The browser's back button.
    pub async fn back(&self) {
        self.driver().back().await.expect("back");
    }

    pub async fn title(&self) -> String {
        self.driver().title().await.expect("title")
    }

    /// The element with this id (panics, naming the page, when there is none).
    pub async fn by_id(&self, id: &str) -> WebElement {
        match self.driver().find(By::Id(id)).await {
            Ok(element) => element,
            Err(e) => panic!(
                "no element id={id:?} on {}: {e}\n{}",
                self.current_url().await,
                self.source().await
            ),
        }
    }

    /// The first element matching a CSS selector (panics, naming the page, when there is none).
    pub async fn by_css(&self, css: &str) -> WebElement {
        match self.driver().find(By::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!(
                "nothing matches {css:?} on {}: {e}\n{}",
                self.current_url().await,
                self.source().await
            ),
        }
    }

    /// The elements matching a CSS selector.
    pub async fn all(&self, css: &str) -> Vec<WebElement> {
        self.driver()
            .find_all(By::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
    }

    pub async fn exists(&self, id: &str) -> bool {
        !self
            .driver()
            .find_all(By::Id(id))
            .await
            .expect("find")
            .is_empty()
    }

    /// Replaces the value of the field with this id by typing `text` into it.
    pub async fn fill(&self, id: &str, text: &str) {
        let field = self.by_id(id).await;
        field.clear().await.expect("clear the field");
        field.send_keys(text).await.expect("type");
    }

    /// Sets a field to `value` as a person would: a `<select>` by clicking the option whose value or text it is,
    /// any other field by typing.
    pub async fn choose(&self, id: &str, value: &str) {
        let field = self.by_id(id).await;
        if field.tag_name().await.expect("tag") != "select" {
            return self.fill(id, value).await;
        }
        for option in field.find_all(By::Tag("option")).await.expect("options") {
            let text = option.text().await.expect("text");
            let option_value = option.value().await.expect("value").unwrap_or_default();
            if option_value == value || text.trim() == value {
                return option.click().await.expect("choose the option");
            }
        }
        panic!("#{id} has no option {value:?}");
    }

    /// Clicks the element with this id (a link or a submit button) and waits for the page it leads to.
    pub async fn click(&self, id: &str) {
        self.click_css(&format!("[id='{id}']")).await;
    }

    /// Clicks the first element matching a CSS selector and waits for the page it leads to.
    pub async fn click_css(&self, css: &str) {
        let element = self.by_css(css).await;
        self.mark().await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
        self.wait_for_new_page(css).await;
    }

    /// Marks the current document, so that `wait_for_new_page` can tell when another has replaced it.
    pub async fn mark(&self) {
        self.script("window.idrTestMark = true").await;
    }

    /// Waits until the marked document is gone and its successor has loaded (WebDriver waits for navigations it
    /// starts itself, not always for the form submission a click or a key press starts).
    pub async fn wait_for_new_page(&self, after: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // A navigation in progress can make the script fail: try again.
            if let Ok(ret) = self
                .driver()
                .execute(
                    "return window.idrTestMark !== true && document.readyState === 'complete'",
                    vec![],
                )
                .await
                && ret.convert::<bool>().unwrap_or(false)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no new page within 30 s after {after} (still {})",
                self.current_url().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The rendered text of the element with this id.
    pub async fn text(&self, id: &str) -> String {
        self.by_id(id).await.text().await.expect("text")
    }

    pub async fn attr(&self, id: &str, name: &str) -> Option<String> {
        self.by_id(id).await.attr(name).await.expect("attribute")
    }

    /// A field's current value (what the browser would submit).
    pub async fn value(&self, id: &str) -> String {
        self.by_id(id)
            .await
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    /// The id of the element that has the keyboard focus ("" for the body or an element without id).
    pub async fn focused_id(&self) -> String {
        self.script("return document.activeElement ? document.activeElement.id : ''")
            .await
            .convert()
            .expect("the focused element's id")
    }

    /// Presses keys on whatever has the focus, as a person at a keyboard would (`Key::Tab`, `Key::Enter`, text).
    pub async fn press(&self, keys: impl Into<TypingData>) {
        self.driver()
            .action_chain()
            .send_keys(keys)
            .perform()
            .await
            .expect("key presses");
    }

    /// Runs a script in the page (WebDriver's own channel: not blocked by the page's CSP, and the console needs no
    /// script of its own).
    pub async fn script(&self, js: &str) -> ScriptRet {
        self.driver()
            .execute(js, vec![])
            .await
            .unwrap_or_else(|e| panic!("script {js}: {e}"))
    }

    pub async fn source(&self) -> String {
        self.driver().source().await.unwrap_or_default()
    }

    /// The cookies the browser holds for the current page (HttpOnly ones included: WebDriver sees them all).
    pub async fn cookies(&self) -> Vec<Cookie> {
        self.driver().get_all_cookies().await.expect("cookies")
    }

    /// What the page's Content Security Policy refused since the last call (styles, images, scripts, frames the
    /// browser did not load or apply): the browser's console errors that name the policy.
    pub async fn csp_violations(&self) -> Vec<String> {
        self.driver()
            .browser_log()
            .await
            .expect("the browser's log")
            .into_iter()
            .map(|entry| entry.message)
            .filter(|message| message.contains("Content Security Policy"))
            .collect()
    }

    /// Saves what the viewport shows as `<screenshot_dir>/<name>.png` and returns the path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        let png = self.driver().screenshot_as_png().await.expect("screenshot");
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Clicks the first link or button matching a CSS selector and waits for the download it starts to finish (Chromium writes
    /// it into this browser's download folder, with the browser's cookies sent and the name it takes from
    /// `Content-Disposition` or the link's `download` attribute).
    pub async fn download(&self, css: &str) -> Download {
        let folder = self.dir.path().join("downloads");
        let before = files(&folder);
        self.by_css(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = files(&folder);
            // Chromium writes into hidden (`.org.chromium.Chromium.*`) and `.crdownload` files, then renames the
            // finished download to its name.
            let finished = |name: &&String| {
                !before.contains(name) && !name.starts_with('.') && !name.ends_with(".crdownload")
            };
            if let Some(name) = now.iter().find(finished) {
                let bytes = std::fs::read(folder.join(name)).expect("read the download");
                return Download {
                    name: name.clone(),
                    bytes,
                };
            }
            assert!(
                Instant::now() < deadline,
                "no download finished within 30 s of clicking {css} on {} (folder: {now:?})",
                self.current_url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The live processes of this browser: chromedriver, everything in its process group (Chromium's), and any
    /// process whose command line names this browser's temporary directory (Chromium's crash handler).
    pub fn processes(&self) -> Vec<u32> {
        processes_of(self.chromedriver.id(), self.dir.path())
    }

    /// What identifies this browser's processes once it is gone: chromedriver's process group, the temporary
    /// directory.
    pub fn identity(&self) -> (u32, PathBuf) {
        (self.chromedriver.id(), self.dir.path().to_path_buf())
    }

    /// Ends the session (closing Chromium) and stops chromedriver.
    pub async fn quit(mut self) {
        if let Some(driver) = self.driver.take() {
            driver.quit().await.expect("end the session");
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A session not quit (a failed test) ends with the processes below. thirtyfour's own drop would send the
        // DELETE from a thread of its own, over connections that belong to this (now blocked) runtime: a hang.
        if let Some(driver) = self.driver.take() {
            let _ = driver.leak();
        }
        // chromedriver leads its own process group, and Chromium's processes are in it: end them all.
        let group = format!("-{}", self.chromedriver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
        for pid in processes_of(self.chromedriver.id(), self.dir.path()) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Starts chromedriver on a port it picks itself (it prints which), in a process group of its own.
fn spawn_chromedriver(binary: &Path, log: &Path) -> (Child, u16) {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(binary)
        .arg("--port=0")
        .arg(format!("--log-path={}", log.display()))
        .arg("--log-level=WARNING")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the port, then keeps draining standard output so that chromedriver never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let port = line
                .strip_prefix("ChromeDriver was started successfully on port ")
                .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok());
            if let Some(port) = port
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(port);
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(port) => (child, port),
        Err(_) => {
            let _ = child.kill();
            let status = child.wait();
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("chromedriver did not report its port within 30 s ({status:?}):\n{log}");
        }
    }
}

/// Checks a screenshot is a PNG of `size` with a page on it (text and colours, not one flat colour).
pub fn assert_not_blank(png: &Path, (width, height): (u32, u32)) {
    let image = image::open(png).expect("a PNG screenshot").to_rgb8();
    assert_eq!(
        (image.width(), image.height()),
        (width, height),
        "{}",
        png.display()
    );
    let background = *image.get_pixel(0, 0);
    let inked = image.pixels().filter(|p| **p != background).count();
    let share = inked as f64 / f64::from(width * height);
    assert!(
        share > 0.02,
        "{}: only {:.2} % of the pixels differ from the background",
        png.display(),
        share * 100.0
    );
    let mut colours: Vec<[u8; 3]> = image.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 50,
        "{}: only {} colours: no text was drawn",
        png.display(),
        colours.len()
    );
}

/// The live processes (zombies, which have ended, are left out) of process group `group`, or whose command line
/// names `dir`, from /proc.
pub fn processes_of(group: u32, dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let dir = dir.to_string_lossy().into_owned();
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // /proc/PID/stat: "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((_, rest)) = stat.rsplit_once(") ") else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.len() < 3 || fields[0] == "Z" {
                return false;
            }
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            fields[2] == group.to_string() || String::from_utf8_lossy(&cmdline).contains(&dir)
        })
        .collect()
}

fn files(folder: &Path) -> Vec<String> {
    std::fs::read_dir(folder)
        .expect("download folder")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
