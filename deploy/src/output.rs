//! Where the deployer's words go: human lines (with indicatif progress bars
//! on a terminal), plain lines when piped, or JSON lines with `--json`.
//!
//! Every message is tagged with its stack so concurrent county deploys stay
//! readable. Approval prompts go through here too, serialized so two counties
//! never ask at once.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable lines; progress bars when the sink is a terminal.
    Human,
    /// One JSON object per line.
    Json,
}

type Prompt = dyn Fn(&str) -> bool + Send + Sync;

struct Inner {
    format: Format,
    writer: Mutex<Box<dyn Write + Send>>,
    /// Progress bars, only when writing to a terminal in human format.
    multi: Option<MultiProgress>,
    prompt_lock: tokio::sync::Mutex<()>,
}

/// The output sink handed to every command.
#[derive(Clone)]
pub struct Output {
    inner: Arc<Inner>,
    /// Who answers approval questions; `None`: nobody can.
    prompt: Option<Arc<Prompt>>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("format", &self.inner.format)
            .finish_non_exhaustive()
    }
}

/// A captured output buffer (tests).
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Output {
    /// The process's terminal streams. Human text (and progress bars) goes
    /// to stderr; `--json` lines go to stdout so they can be piped into `jq`.
    /// On a terminal: progress bars, and an interactive approval prompt when
    /// stdin is a terminal too. Otherwise plain lines and no prompt (approval
    /// then refuses instead of hanging a pipeline).
    pub fn stdio(format: Format) -> Self {
        let tty = std::io::stderr().is_terminal();
        let multi = (tty && format == Format::Human)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let prompt: Option<Arc<Prompt>> = (tty && std::io::stdin().is_terminal())
            .then(|| Arc::new(ask_on_terminal) as Arc<Prompt>);
        let writer: Box<dyn Write + Send> = match format {
            Format::Human => Box::new(std::io::stderr()),
            Format::Json => Box::new(std::io::stdout()),
        };
        Self::build(format, writer, multi, prompt)
    }

    /// Writes into a buffer; no progress bars, no prompt (tests).
    pub fn capture(format: Format) -> (Self, Captured) {
        let buf = Captured::default();
        (Self::build(format, Box::new(buf.clone()), None, None), buf)
    }

    /// Replaces the approval prompt (tests answer "yes" or "no" through this).
    pub fn with_prompt(mut self, prompt: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.prompt = Some(Arc::new(prompt));
        self
    }

    fn build(
        format: Format,
        writer: Box<dyn Write + Send>,
        multi: Option<MultiProgress>,
        prompt: Option<Arc<Prompt>>,
    ) -> Self {
        let inner = Inner {
            format,
            writer: Mutex::new(writer),
            multi,
            prompt_lock: tokio::sync::Mutex::new(()),
        };
        Self {
            inner: Arc::new(inner),
            prompt,
        }
    }

    /// The format.
    pub fn format(&self) -> Format {
        self.inner.format
    }

    /// Can this sink ask the operator a question?
    pub fn interactive(&self) -> bool {
        self.prompt.is_some()
    }

    fn write_line(&self, line: &str) {
        if let Some(m) = &self.inner.multi {
            // Prints above the bars instead of tearing them.
            if m.println(line).is_ok() {
                return;
            }
        }
        if let Ok(mut w) = self.inner.writer.lock() {
            // Output is best effort: a closed stderr must not fail a deploy.
            let _ = writeln!(w, "{line}");
        }
    }

    /// A message about one stack. `kind` names it for JSON consumers
    /// (`"change"`, `"event"`, `"result"`...); `data` adds fields to the JSON line.
    pub fn emit(&self, stack: &str, kind: &str, message: &str, data: Value) {
        match self.inner.format {
            Format::Human => {
                for (i, line) in message.lines().enumerate() {
                    if i == 0 {
                        self.write_line(&format!("{stack}: {line}"))
                    } else {
                        self.write_line(line)
                    }
                }
            }
            Format::Json => {
                let mut obj = json!({"stack": stack, "kind": kind, "message": message});
                if let (Some(o), Value::Object(extra)) = (obj.as_object_mut(), data) {
                    o.extend(extra);
                }
                self.write_line(&obj.to_string());
            }
        }
    }

    /// A free-form note about one stack.
    pub fn note(&self, stack: &str, message: &str) {
        self.emit(stack, "note", message, Value::Null);
    }

    /// A block of text not tied to one stack (tables). JSON output carries it
    /// as `{"kind": kind, ...data}` instead.
    pub fn block(&self, kind: &str, text: &str, data: Value) {
        match self.inner.format {
            Format::Human => {
                for line in text.lines() {
                    self.write_line(line);
                }
            }
            Format::Json => {
                let mut obj = json!({"kind": kind});
                if let (Some(o), Value::Object(extra)) = (obj.as_object_mut(), data) {
                    o.extend(extra);
                }
                self.write_line(&obj.to_string());
            }
        }
    }

    /// A progress bar for one stack operation (hidden unless on a terminal).
    pub(crate) fn progress(&self, stack: &str, total: u64) -> ProgressBar {
        match &self.inner.multi {
            Some(m) => {
                let bar = m.add(ProgressBar::new(total.max(1)));
                let style = ProgressStyle::with_template(
                    "{prefix:>14} [{bar:30}] {pos}/{len} resources  {elapsed}  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(stack.to_string());
                bar
            }
            None => ProgressBar::hidden(),
        }
    }

    /// Asks a yes/no question; `false` when nobody can answer.
    pub(crate) async fn confirm(&self, question: &str) -> bool {
        let Some(prompt) = &self.prompt else {
            return false;
        };
        let _one_at_a_time = self.inner.prompt_lock.lock().await;
        match &self.inner.multi {
            Some(m) => m.suspend(|| prompt(question)),
            None => prompt(question),
        }
    }
}

fn ask_on_terminal(question: &str) -> bool {
    let mut err = std::io::stderr();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
