//! CloudFormation's hard limits, checked at synth time so a county never finds
//! out at deploy time, in the middle of a rollout.

use std::fmt;

use crate::cfn::Template;

/// Resources per stack.
pub const MAX_RESOURCES: usize = 500;
/// Template body size when uploaded to S3 and passed by `TemplateURL` (1 MB).
pub const MAX_TEMPLATE_BYTES: usize = 1_000_000;
/// Template body size when passed inline with `TemplateBody`; larger templates
/// must be uploaded to S3 first.
pub const MAX_INLINE_TEMPLATE_BYTES: usize = 51_200;
/// Outputs per stack.
pub const MAX_OUTPUTS: usize = 200;
/// Parameters per stack.
pub const MAX_PARAMETERS: usize = 200;
/// A warning is given at this share of a limit.
pub const WARN_AT_PERCENT: usize = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Note,
    Warning,
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        })
    }
}

/// One finding about one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub stack: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.level, self.stack, self.message)
    }
}

/// Checks a template against the limits; `template_bytes` is the size of the
/// body as written (what deploy will submit).
pub fn check(stack: &str, template: &Template, template_bytes: usize) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |level, message: String| {
        out.push(Finding {
            level,
            stack: stack.to_owned(),
            message,
        })
    };
    let mut count = |what: &str, n: usize, max: usize, hint: &str| {
        if n > max {
            push(
                Level::Error,
                format!("{n} {what}, over CloudFormation's limit of {max} per stack; {hint}"),
            );
        } else if n * 100 >= max * WARN_AT_PERCENT {
            push(
                Level::Warning,
                format!(
                    "{n} {what}, {}% of CloudFormation's limit of {max}; {hint}",
                    n * 100 / max
                ),
            );
        }
    };
    count(
        "resources",
        template.resources().len(),
        MAX_RESOURCES,
        "move optional parts (analytics) to a nested stack",
    );
    count(
        "outputs",
        template.outputs().len(),
        MAX_OUTPUTS,
        "drop outputs nobody reads",
    );
    count(
        "parameters",
        template.parameters().len(),
        MAX_PARAMETERS,
        "derive values from the county file instead",
    );
    count(
        "bytes of template",
        template_bytes,
        MAX_TEMPLATE_BYTES,
        "shorten descriptions or split the stack",
    );
    if template_bytes > MAX_INLINE_TEMPLATE_BYTES && template_bytes <= MAX_TEMPLATE_BYTES {
        push(
            Level::Note,
            format!(
                "template is {template_bytes} bytes, over the {MAX_INLINE_TEMPLATE_BYTES}-byte inline limit: \
                 deploy uploads it to the assets bucket and passes it by URL"
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfn::resources::sqs::QueuePolicy;
    use crate::cfn::{Expr, LogicalId, PolicyDocument};

    fn template_with(n: usize) -> Template {
        let mut t = Template::new("limits");
        for i in 0..n {
            t.add_resource(
                &LogicalId::new(format!("P{i}")),
                QueuePolicy {
                    queues: vec![Expr::lit("q")],
                    policy_document: PolicyDocument::new(vec![]),
                },
            )
            .expect("add");
        }
        t
    }

    #[test]
    fn resources_over_the_limit_are_an_error_and_near_it_a_warning() {
        let over = check("s", &template_with(501), 1000);
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].level, Level::Error);
        assert!(
            over[0]
                .message
                .starts_with("501 resources, over CloudFormation's limit of 500"),
            "{}",
            over[0]
        );
        let near = check("s", &template_with(450), 1000);
        assert_eq!(near.len(), 1);
        assert_eq!(near[0].level, Level::Warning);
        assert!(near[0].message.contains("90%"), "{}", near[0]);
        assert!(check("s", &template_with(449), 1000).is_empty());
    }

    #[test]
    fn template_size_limits() {
        let t = template_with(1);
        assert!(check("s", &t, MAX_INLINE_TEMPLATE_BYTES).is_empty());
        let note = check("s", &t, MAX_INLINE_TEMPLATE_BYTES + 1);
        assert_eq!(note.len(), 1);
        assert_eq!(note[0].level, Level::Note);
        assert!(
            note[0]
                .to_string()
                .contains("uploads it to the assets bucket"),
            "{}",
            note[0]
        );
        let warn = check("s", &t, 950_000);
        assert!(warn.iter().any(|f| f.level == Level::Warning));
        let err = check("s", &t, MAX_TEMPLATE_BYTES + 1);
        assert_eq!(err.iter().filter(|f| f.level == Level::Error).count(), 1);
        assert!(
            err.iter().all(|f| f.level != Level::Note),
            "no upload note for a template that can't deploy"
        );
    }
}
