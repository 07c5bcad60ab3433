//! Where the deployer's words go: human lines (with indicatif progress bars
//! on a terminal), plain lines when piped, or JSON lines with `--json`.
//!
//! Every message is tagged with its stack so concurrent county deploys stay
//! readable. Approval prompts go through here too, serialized so two counties
//! never ask at once. While a question waits for its answer the other
//! counties keep deploying: their lines are held back (so they do not tear the
//! question) and printed, in order, once it is answered.

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
    /// `Some` while a question is on screen: lines written meanwhile.
    held: Mutex<Option<Vec<String>>>,
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
            held: Mutex::new(None),
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
        if let Ok(mut held) = self.inner.held.lock()
            && let Some(lines) = held.as_mut()
        {
            lines.push(line.to_owned());
            return;
        }
        self.write_now(line);
    }

    fn write_now(&self, line: &str) {
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
    ///
    /// The answer is awaited without blocking the runtime: the prompt runs
    /// on its own thread (detached, so an interrupted question never keeps
    /// the process alive), progress bars are hidden, and lines from other
    /// stacks are held back until the answer is in.
    pub(crate) async fn confirm(&self, question: &str) -> bool {
        let Some(prompt) = self.prompt.clone() else {
            return false;
        };
        let _one_at_a_time = self.inner.prompt_lock.lock().await;
        let _held = HoldLines::start(self);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let question = question.to_owned();
        let asked = std::thread::Builder::new()
            .name("approval-prompt".into())
            .spawn(move || {
                let _ = tx.send(prompt(&question));
            });
        if asked.is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }
}

/// Holds other stacks' lines back (and hides the bars) while a question is
/// on screen; flushes them when dropped, also when the question is abandoned.
struct HoldLines<'a>(&'a Output);

impl<'a> HoldLines<'a> {
    fn start(out: &'a Output) -> Self {
        if let Ok(mut held) = out.inner.held.lock() {
            *held = Some(Vec::new());
        }
        if let Some(m) = &out.inner.multi {
            m.set_draw_target(ProgressDrawTarget::hidden());
        }
        Self(out)
    }
}

impl Drop for HoldLines<'_> {
    fn drop(&mut self) {
        let lines = self
            .0
            .inner
            .held
            .lock()
            .ok()
            .and_then(|mut held| held.take())
            .unwrap_or_default();
        if let Some(m) = &self.0.inner.multi {
            m.set_draw_target(ProgressDrawTarget::stderr());
        }
        for line in lines {
            self.0.write_now(&line);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits (bounded) until a question is on screen.
    async fn until_asking(out: &Output) {
        for _ in 0..10_000 {
            if out.inner.held.lock().is_ok_and(|h| h.is_some()) {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the question never appeared");
    }

    #[tokio::test]
    async fn a_waiting_question_holds_other_lines_back_without_stopping_them() {
        let (out, text) = Output::capture(Format::Human);
        let (answer, answers) = std::sync::mpsc::channel::<bool>();
        let answers = Mutex::new(answers);
        let out = out.with_prompt(move |_| {
            answers
                .lock()
                .map(|r| r.recv().unwrap_or(false))
                .unwrap_or(false)
        });
        let asking = tokio::spawn({
            let out = out.clone();
            async move { out.confirm("acme-a: deploy these changes?").await }
        });
        until_asking(&out).await;
        // This test runs on a single-threaded runtime: reaching this line
        // while the question waits proves the wait blocks no other task.
        out.note("acme-b", "CREATE_COMPLETE");
        out.note("acme-c", "UPDATE_COMPLETE");
        assert!(
            !text.text().contains("acme-b"),
            "held back while the question is on screen: {}",
            text.text()
        );
        answer.send(true).expect("the prompt is waiting");
        assert!(asking.await.expect("joins"), "the answer was yes");
        let t = text.text();
        let (b, c) = (
            t.find("acme-b: CREATE_COMPLETE").expect("b printed"),
            t.find("acme-c: UPDATE_COMPLETE").expect("c printed"),
        );
        assert!(b < c, "held lines keep their order: {t}");
        out.note("acme-d", "after");
        assert!(text.text().ends_with("acme-d: after\n"), "{}", text.text());
    }

    #[tokio::test]
    async fn questions_are_asked_one_at_a_time_and_no_means_no() {
        let (out, _text) = Output::capture(Format::Human);
        let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (o, m) = (open.clone(), most.clone());
        let out = out.with_prompt(move |q| {
            use std::sync::atomic::Ordering::SeqCst;
            let now = o.fetch_add(1, SeqCst) + 1;
            m.fetch_max(now, SeqCst);
            std::thread::yield_now();
            o.fetch_sub(1, SeqCst);
            q.contains("yes-county")
        });
        let asks: Vec<_> = ["yes-county", "no-county", "other"]
            .into_iter()
            .map(|c| {
                let out = out.clone();
                tokio::spawn(async move { out.confirm(&format!("{c}: deploy?")).await })
            })
            .collect();
        let mut answers = Vec::new();
        for a in asks {
            answers.push(a.await.expect("joins"));
        }
        assert_eq!(answers, [true, false, false]);
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn without_a_terminal_nobody_is_asked() {
        let (out, text) = Output::capture(Format::Human);
        assert!(!out.interactive());
        assert!(!out.confirm("deploy?").await);
        assert!(text.text().is_empty());
    }
}
