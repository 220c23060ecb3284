//! The command line's flags: positional arguments, `--name value` pairs and the switches
//! `--json` and `--each`.

/// Flags after the subcommand: positional arguments, `--name value` pairs and switches.
pub struct Flags {
    pub positional: Vec<String>,
    named: Vec<(String, String)>,
    pub json: bool,
    /// `truncate --each`: decide the listed tokens one call apiece and time each.
    pub each: bool,
}

impl Flags {
    pub fn parse(args: &[String], known: &[&str]) -> Result<Self, String> {
        let mut flags = Flags {
            positional: Vec::new(),
            named: Vec::new(),
            json: false,
            each: false,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if arg == "--json" {
                flags.json = true;
            } else if arg == "--each" {
                flags.each = true;
            } else if let Some(name) = arg.strip_prefix("--") {
                if !known.contains(&name) {
                    return Err(format!("unknown flag --{name}; see `basis-aware --help`"));
                }
                let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                flags.named.push((name.to_string(), value.clone()));
            } else {
                flags.positional.push(arg.clone());
            }
        }
        Ok(flags)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.named
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: `{v}` is not a valid number")),
        }
    }
}
