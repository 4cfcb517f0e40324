package jobs

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gridflow/gridflow/dsl/testbed"
	"github.com/gridflow/gridflow/dsl/units"
	"github.com/gridflow/gridflow/engine/hw"
	"github.com/gridflow/gridflow/engine/store"
)

// Manifest is what a user asks of a job, in DIRAC's words. Sizes are strings
// with units ("2GiB"); CPUTime is in seconds, as in DIRAC.
type Manifest struct {
	Executable string `json:"Executable"`
	// Arguments is one string, split as a shell would split it (quotes and
	// backslashes), without expansions.
	Arguments string `json:"Arguments,omitempty"`
	JobName   string `json:"JobName,omitempty"`
	JobGroup  string `json:"JobGroup,omitempty"`
	Project   string `json:"Project,omitempty"`
	// Sites the job may run at; empty or ["ANY"]: any site.
	Sites       []string `json:"Sites,omitempty"`
	BannedSites []string `json:"BannedSites,omitempty"`
	// Cores and Memory the node must have at least.
	Cores  int    `json:"Cores,omitempty"`
	Memory string `json:"Memory,omitempty"`
	// CPUTime bounds the run, in seconds (wall clock, as the node sees it).
	CPUTime     int               `json:"CPUTime,omitempty"`
	Environment map[string]string `json:"Environment,omitempty"`
	// InputSandbox names the files sent with the job; they are put in the
	// job's working directory on the node.
	InputSandbox []string `json:"InputSandbox,omitempty"`
	// OutputSandbox names the files of the working directory to bring back
	// with stdout and stderr.
	OutputSandbox []string `json:"OutputSandbox,omitempty"`
	// MaxReschedules bounds the moves to another node when a node dies.
	MaxReschedules *int `json:"MaxReschedules,omitempty"`
	// OutputData names files of the working directory to register in the
	// file catalogue once the job is Done, under OutputPath, each with its
	// copy on the node as replica (DIRAC's OutputData, the node being the
	// storage element).
	OutputData []string `json:"OutputData,omitempty"`
	// OutputPath is the catalogue directory of OutputData; default
	// /<owner>/jobs/<job id>.
	OutputPath string `json:"OutputPath,omitempty"`
}

// Limits of a manifest.
const (
	DefaultCPUTime        = 3600
	MaxCPUTime            = 7 * 24 * 3600
	DefaultMaxReschedules = 3
	MaxMaxReschedules     = 10
	maxFiles              = 1000
	maxEnv                = 256
	maxString             = 4096
	maxName               = 256
)

// Names of stdout and stderr in an output sandbox, and of the marker file
// that makes the job's working directory on its node.
const (
	StdoutName = "std.out"
	StderrName = "std.err"
	MarkerName = ".gridflow-job"
)

// FieldError is a submission refused because of one field.
type FieldError struct {
	Status   int    // 403, 404, 413 or 422
	Location string // "body.Sites[1]"
	Value    any
	Message  string
}

func (e *FieldError) Error() string { return e.Location + ": " + e.Message }

func invalid(loc string, v any, format string, args ...any) *FieldError {
	return &FieldError{Status: 422, Location: loc, Value: v, Message: fmt.Sprintf(format, args...)}
}

// Error is a refusal with an HTTP status (403, 404, 409, 503).
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Requirements is the node a job needs.
type Requirements struct {
	Sites  []string // the candidate sites, in order
	Cores  int
	Memory int64
}

// Walltime is the job's CPUTime as a duration.
func (m Manifest) Walltime() time.Duration {
	if m.CPUTime <= 0 {
		return DefaultCPUTime * time.Second
	}
	return time.Duration(m.CPUTime) * time.Second
}

// Reschedules is the bound on moves to another node.
func (m Manifest) Reschedules() int {
	if m.MaxReschedules == nil {
		return DefaultMaxReschedules
	}
	return *m.MaxReschedules
}

// Args splits Arguments.
func (m Manifest) Args() ([]string, error) { return SplitArgs(m.Arguments) }

// Normalize checks a manifest against the testbed, fills its defaults in,
// and returns what the node must offer. Every refusal names its field.
func (m *Manifest) Normalize(tb *testbed.Testbed) (Requirements, error) {
	var req Requirements
	m.Executable = strings.TrimSpace(m.Executable)
	switch {
	case m.Executable == "":
		return req, invalid("body.Executable", m.Executable, "a job needs an Executable: a program on the node (/bin/echo) or a file of its InputSandbox")
	case len(m.Executable) > maxString || strings.ContainsRune(m.Executable, 0):
		return req, invalid("body.Executable", m.Executable, "Executable is a path of at most %d bytes, without NUL", maxString)
	case len(m.Arguments) > 64*1024 || strings.ContainsRune(m.Arguments, 0):
		return req, invalid("body.Arguments", len(m.Arguments), "Arguments is a string of at most 64 KiB, without NUL")
	case len(m.JobName) > maxName || strings.ContainsRune(m.JobName, 0):
		return req, invalid("body.JobName", m.JobName, "JobName is at most %d bytes, without NUL", maxName)
	case len(m.JobGroup) > maxName || strings.ContainsRune(m.JobGroup, 0):
		return req, invalid("body.JobGroup", m.JobGroup, "JobGroup is at most %d bytes, without NUL", maxName)
	case len(m.Project) > 64:
		return req, invalid("body.Project", m.Project, "Project names one of your projects (at most 64 bytes)")
	case m.Cores < 0 || m.Cores > 1<<20:
		return req, invalid("body.Cores", m.Cores, "Cores is the number of cores the node needs, from 0 (any) up")
	case m.CPUTime < 0 || m.CPUTime > MaxCPUTime:
		return req, invalid("body.CPUTime", m.CPUTime, "CPUTime is a number of seconds from 1 to %d (7 days); 0 takes the default, %d", MaxCPUTime, DefaultCPUTime)
	case m.MaxReschedules != nil && (*m.MaxReschedules < 0 || *m.MaxReschedules > MaxMaxReschedules):
		return req, invalid("body.MaxReschedules", *m.MaxReschedules, "MaxReschedules goes from 0 to %d", MaxMaxReschedules)
	case len(m.Environment) > maxEnv:
		return req, invalid("body.Environment", len(m.Environment), "at most %d environment variables", maxEnv)
	}
	if _, err := m.Args(); err != nil {
		return req, invalid("body.Arguments", m.Arguments, "%v", err)
	}
	if m.CPUTime == 0 {
		m.CPUTime = DefaultCPUTime
	}
	req.Cores = m.Cores
	if m.Memory != "" {
		n, err := units.ParseSize(m.Memory)
		if err != nil {
			return req, invalid("body.Memory", m.Memory, "%v", err)
		}
		req.Memory = n
	}
	for _, k := range sortedKeys(m.Environment) {
		v := m.Environment[k]
		if !envName.MatchString(k) || len(k) > maxName {
			return req, invalid("body.Environment."+k, k, "an environment variable name is letters, digits and '_', not starting with a digit")
		}
		if len(v) > maxString || strings.ContainsRune(v, 0) {
			return req, invalid("body.Environment."+k, len(v), "an environment value is at most %d bytes, without NUL", maxString)
		}
	}
	var err error
	if m.InputSandbox, err = fileNames("body.InputSandbox", m.InputSandbox); err != nil {
		return req, err
	}
	if m.OutputSandbox, err = fileNames("body.OutputSandbox", m.OutputSandbox); err != nil {
		return req, err
	}
	if m.OutputData, err = fileNames("body.OutputData", m.OutputData); err != nil {
		return req, err
	}
	if m.OutputPath != "" {
		p, err := store.CleanLFN(m.OutputPath)
		if err != nil || p == "/" {
			return req, invalid("body.OutputPath", m.OutputPath, "not a catalogue directory: write /USER/dir")
		}
		m.OutputPath = p
	}
	for i, n := range m.OutputSandbox {
		if n == StdoutName || n == StderrName {
			return req, invalid(fmt.Sprintf("body.OutputSandbox[%d]", i), n, "%s and %s are the job's stdout and stderr, always in the output sandbox: name another file", StdoutName, StderrName)
		}
	}

	// Sites: known ones, not banned, with a node that fits.
	var all []string
	for _, s := range tb.Sites {
		all = append(all, s.UID)
	}
	sort.Strings(all)
	known := func(loc, s string) error {
		if tb.Site(s) == nil {
			return &FieldError{Status: 422, Location: loc, Value: s, Message: fmt.Sprintf("no site %q: the sites are %s (or ANY)", s, strings.Join(all, ", "))}
		}
		return nil
	}
	for i, s := range m.BannedSites {
		if err := known(fmt.Sprintf("body.BannedSites[%d]", i), s); err != nil {
			return req, err
		}
	}
	sites := m.Sites
	if len(sites) == 0 || len(sites) == 1 && strings.EqualFold(sites[0], "ANY") {
		sites = all
		m.Sites = nil
	} else {
		for i, s := range sites {
			if err := known(fmt.Sprintf("body.Sites[%d]", i), s); err != nil {
				return req, err
			}
		}
	}
	for _, s := range sites {
		if !slices.Contains(m.BannedSites, s) && !slices.Contains(req.Sites, s) {
			req.Sites = append(req.Sites, s)
		}
	}
	if len(req.Sites) == 0 {
		return req, invalid("body.BannedSites", m.BannedSites, "every site the job may run at is banned")
	}
	fits := false
	for _, s := range req.Sites {
		for _, c := range tb.Site(s).Clusters {
			for _, n := range c.Nodes {
				fits = fits || req.Fits(n)
			}
		}
	}
	if !fits {
		loc, v := "body.Cores", any(m.Cores)
		if req.Memory > 0 {
			loc, v = "body.Memory", m.Memory
		}
		return req, invalid(loc, v, "no node of %s has %d cores and %s of memory: ask for less", strings.Join(req.Sites, ", "), req.Cores, m.Memory)
	}
	return req, nil
}

// Fits reports whether a node satisfies the requirements.
func (r Requirements) Fits(n *testbed.Node) bool {
	return n.Properties.Cores >= r.Cores && n.Properties.Memory >= r.Memory
}

// fileNames checks the names of sandbox files: relative paths without '.',
// '..' or empty segments, each once.
func fileNames(loc string, names []string) ([]string, error) {
	if len(names) > maxFiles {
		return nil, invalid(loc, len(names), "at most %d files", maxFiles)
	}
	out := make([]string, 0, len(names))
	for i, n := range names {
		at := fmt.Sprintf("%s[%d]", loc, i)
		clean, err := CleanName(n)
		if err != nil {
			return nil, invalid(at, n, "%v", err)
		}
		if slices.Contains(out, clean) {
			return nil, invalid(at, n, "%s is named twice", clean)
		}
		out = append(out, clean)
	}
	return out, nil
}

// CleanName checks a sandbox file name ("data/in.txt"; a leading "./" is
// dropped).
func CleanName(n string) (string, error) {
	n = strings.TrimPrefix(n, "./")
	if len(n) > 1024 {
		return "", fmt.Errorf("a file name is at most 1024 bytes")
	}
	if strings.ContainsAny(n, "\\*?[") {
		return "", fmt.Errorf("%q: name files plainly, without backslashes or wildcards", n)
	}
	c, err := hw.CleanPath(n)
	if err != nil {
		return "", err
	}
	if path.Clean(c) != c {
		return "", fmt.Errorf("%q is not a clean relative path", n)
	}
	return c, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SplitArgs splits a command line as a POSIX shell splits words: blanks
// separate, single quotes keep everything, double quotes keep all but \" and
// \\, a backslash outside quotes escapes the next character. No expansion.
func SplitArgs(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote at byte %d", i)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote")
			}
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("a backslash ends the arguments")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// Command is the program and arguments that run the job. An Executable
// that names a file of the input sandbox is run from the working directory,
// made executable first (files arrive without the executable bit).
func (m Manifest) Command() (string, []string) {
	args, _ := m.Args()
	if name, err := CleanName(m.Executable); err == nil && slices.Contains(m.InputSandbox, name) {
		return "/bin/sh", append([]string{"-c", `chmod +x "$0" && exec "$0" "$@"`, "./" + name}, args...)
	}
	return m.Executable, args
}

// Env is the job's environment: its variables and JOBID.
func (m Manifest) Env(id string) map[string]string {
	env := make(map[string]string, len(m.Environment)+1)
	for k, v := range m.Environment {
		env[k] = v
	}
	env["JOBID"] = id
	return env
}
