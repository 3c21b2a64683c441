package dev.lockstep.devstack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The web console in a real browser (Debian's headless Chromium, driven by Selenium) on the dev
 * stack as {@code lockstep dev} starts it, with a worker process: an upgrade started from the CLI
 * is followed live, a refused action shows the upgrade's refusal, Resume with a reason finishes it,
 * and the audit shows that resume, its reason as text.
 */
class ConsoleIT {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  private static final String TARGET = "demo/statefulset/postgresql";
  private static final Path SHOTS = Path.of("target");

  @TempDir static Path dir;
  private static Processes.Stack stack;
  private static Processes.Running worker;
  private static Map<String, String> env;
  private static String console;
  private static WebDriver browser;

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(
        Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
        "chromium and chromedriver are not installed: apt-get install chromium chromium-driver"
            + " (.ci/run installs them)");
    stack = Processes.devStack(dir, "--console-port", "0");
    env = stack.env();
    String line =
        stack.process().lines.stream()
            .filter(l -> l.startsWith("console "))
            .findFirst()
            .orElseThrow();
    assertThat(line).as("lockstep dev prints the console's URL").contains("http://");
    console = line.replaceFirst("^console\\s+", "").split(" ")[0];
    worker = stack.worker(Processes.WORKER);
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments(
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--user-data-dir=" + dir.resolve("chromium-profile"),
        "--window-size=1100,1500");
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(CHROMEDRIVER.toFile())
            .usingAnyFreePort()
            .build();
    browser = new ChromeDriver(service, options);
    Files.createDirectories(SHOTS);
  }

  @AfterAll
  static void stop() throws Exception {
    if (browser != null) {
      browser.quit();
    }
    if (worker != null) {
      worker.close();
    }
    if (stack != null) {
      stack.close();
    }
  }

  private static WebDriverWait waiting(Duration timeout) {
    WebDriverWait wait = new WebDriverWait(browser, timeout);
    wait.ignoring(StaleElementReferenceException.class);
    return wait;
  }

  // Parts of the page are replaced every second: read them in one script, never element by
  // element (an element found a moment ago may be gone).
  private static Object read(String script) {
    return ((JavascriptExecutor) browser).executeScript(script);
  }

  private static String phase() {
    return String.valueOf(
        read("var p = document.getElementById('phase'); return p ? p.dataset.phase : '';"));
  }

  private static String text(String css) {
    return String.valueOf(
        read("var e = document.querySelector('" + css + "'); return e ? e.innerText : '';"));
  }

  @SuppressWarnings("unchecked")
  private static List<String> unitStates() {
    return (List<String>)
        read(
            "return Array.from(document.querySelectorAll('#units tbody tr'))"
                + ".map(function (r) { return r.dataset.state; });");
  }

  /** Clicks the link to the upgrade, found again if a refresh replaced it meanwhile. */
  private static void open(String linkText) {
    waiting(Duration.ofSeconds(30))
        .until(
            d -> {
              d.findElement(By.linkText(linkText)).click();
              return true;
            });
  }

  private static void steer(String action, String reason) {
    WebElement box = browser.findElement(By.id("reason"));
    box.clear();
    box.sendKeys(reason);
    browser.findElement(By.id("do-" + action)).click();
    // The answer of this action, not the one the previous page showed.
    waiting(Duration.ofSeconds(60)).until(d -> text("#answer").startsWith(action + " "));
  }

  private static Path shot(String name) throws Exception {
    File taken = ((ChromeDriver) browser).getScreenshotAs(OutputType.FILE);
    Path to = SHOTS.resolve(name);
    Files.copy(taken.toPath(), to, StandardCopyOption.REPLACE_EXISTING);
    return to;
  }

  @Test
  void anUpgradeIsFollowedLiveResumedFromTheBrowserAndAuditedWithTheReasonAsText()
      throws Exception {
    browser.get(console);
    assertThat(browser.findElement(By.tagName("h1")).getText()).isEqualTo("Upgrades");
    assertThat(browser.findElement(By.id("who")).getText()).startsWith("Signed in as ");

    Processes.Result started =
        Processes.cli(env, "upgrade", TARGET, "--image", "postgresql=postgres:14.9");
    assertEquals(0, started.exit(), started.err());

    // The list refreshes on its own: the upgrade appears without a reload.
    WebElement link =
        waiting(Duration.ofSeconds(60)).until(d -> d.findElement(By.linkText(TARGET)));
    shot("console-upgrades.png");
    // The filter keeps the rows whose target or phase has its words, across refreshes.
    WebElement filter = browser.findElement(By.id("filter"));
    filter.sendKeys("ghostwire");
    waiting(Duration.ofSeconds(10))
        .until(
            d ->
                d.findElements(By.cssSelector("tr[data-text]")).stream()
                    .noneMatch(WebElement::isDisplayed));
    filter.clear();
    filter.sendKeys("postgres");
    waiting(Duration.ofSeconds(10)).until(d -> d.findElement(By.linkText(TARGET)).isDisplayed());
    open(TARGET);

    // The first unit goes, live, and the upgrade waits at its gate.
    waiting(Duration.ofSeconds(120))
        .until(d -> phase().equals("WAITING_FOR_RESUME") && unitStates().contains("UPGRADED"));
    assertThat(unitStates()).containsExactly("UPGRADED", "WAITING", "WAITING");
    assertThat(text("#phase")).contains("waiting for resume");
    assertThat(text("#steps li[aria-current=step]")).contains("gate");
    shot("console-gate.png");

    // An action the upgrade refuses shows its refusal, in its own words.
    steer("retry", "try it again");
    assertThat(text("#answer")).startsWith("retry refused:");
    assertThat(phase()).isEqualTo("WAITING_FOR_RESUME");

    String reason = "first unit healthy <script>window.pwned = 1</script>";
    steer("resume", reason);
    assertThat(text("#answer")).startsWith("resume accepted:");

    // The remaining units complete, live, and the resume is in the audit with its reason as text.
    waiting(Duration.ofSeconds(120))
        .until(
            d ->
                phase().equals("COMPLETED")
                    && unitStates().equals(List.of("UPGRADED", "UPGRADED", "UPGRADED")));
    String resume =
        waiting(Duration.ofSeconds(30))
            .until(
                d -> {
                  String t = text("#timeline li[data-what=resume]");
                  return t.isEmpty() ? null : t;
                });
    assertThat(resume).contains(reason).contains(DevConsole.identity());
    assertThat(read("return window.pwned === undefined")).isEqualTo(true);
    assertThat(read("return document.scripts.length")).isEqualTo(1L);
    Path page = shot("console-upgrade.png");
    browser.manage().window().setSize(new Dimension(420, 1400));
    shot("console-upgrade-narrow.png");
    browser.manage().window().setSize(new Dimension(1100, 1500));
    assertThat(page).isRegularFile();

    // The same update as the CLI's: the CLI's audit shows who resumed and why.
    Processes.Result audit = Processes.cli(env, "audit", TARGET, "-o", "json");
    assertEquals(0, audit.exit(), audit.err());
    JsonNode entries = new ObjectMapper().readTree(audit.out()).path("entries");
    assertThat(entries.findValuesAsText("reason")).contains(reason);

    // The target's history: the revisions, the new one deployed.
    open("Target history (revisions)");
    waiting(Duration.ofSeconds(60))
        .until(d -> !d.findElements(By.cssSelector("table.history")).isEmpty());
    assertThat(browser.findElement(By.cssSelector("table.history")).getText())
        .contains("deployed")
        .contains("postgres:14.9");
    shot("console-history.png");
  }
}
