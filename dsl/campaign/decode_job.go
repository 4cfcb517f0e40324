package campaign

import (
	"strings"
	"time"

	"github.com/gridflow/gridflow/dsl/units"
)

// maxJobCPUTime bounds a job's cputime, as the engine's manifests do.
const maxJobCPUTime = 7 * 24 * time.Hour

func (d *decoder) job(b *body) Spec {
	s := &JobSpec{}
	if exe, a, ok := b.str("executable"); ok {
		if strings.TrimSpace(exe) == "" {
			b.errorf(a.Expr.Range(), "Empty executable", "executable is the program to run: a path on the node such as \"/bin/echo\", or a file of files such as \"run.sh\".")
		}
		s.Executable = exe
	}
	if args, _, ok := b.str("arguments"); ok {
		s.Arguments = args
	}
	s.Sites = b.strList("sites")
	s.Cores = b.whole("cores", 0, 0, 4096)
	if mem, a, ok := b.str("memory"); ok {
		if _, err := units.ParseSize(mem); err != nil {
			b.errorf(a.Expr.Range(), "Invalid memory", "memory %s. For example: %s", err, b.spec.attr("memory").example)
		}
		s.Memory = mem
	}
	s.CPUTime = b.duration("cputime", 0)
	if a := b.content.Attributes["cputime"]; a != nil && (s.CPUTime < 0 || s.CPUTime > maxJobCPUTime) {
		b.errorf(a.Expr.Range(), "Invalid cputime", "cputime is at most %s, not %s.", maxJobCPUTime, s.CPUTime)
	}
	s.Env = b.env("env")
	files, fa := b.strMap("files")
	for _, name := range sortedKeys(files) {
		if !sandboxName(name) {
			b.errorf(keyRange(fa.Expr, name), "Invalid file name",
				"%q cannot name a file of the job's sandbox: use a plain name such as \"run.sh\" or \"data/input.txt\", without \"..\" or a leading \"/\".", name)
		}
	}
	s.Files = files
	s.OutputSandbox = b.strList("output_sandbox")
	for _, name := range s.OutputSandbox {
		if !sandboxName(name) {
			b.errorf(b.content.Attributes["output_sandbox"].Expr.Range(), "Invalid file name",
				"%q cannot name an output file: it is a path relative to the job's directory, without \"..\" or a leading \"/\".", name)
		}
	}
	if name, _, ok := b.str("job_name"); ok {
		s.JobName = name
	}
	s.pending = d.finish()

	// The testbed: only with an inventory, and only for sites known now.
	if a := b.content.Attributes["sites"]; d.inv != nil && a != nil {
		if _, pend := s.expr("sites"); !pend {
			for _, site := range s.Sites {
				if site != "ANY" && !d.inv.HasSite(site) {
					b.errorf(a.Expr.Range(), "No such site", "The testbed has no site %q. Check the spelling, or list the sites with the testbed API.", site)
				}
			}
		}
	}
	return s
}

// sandboxName reports whether name is a relative path that stays in a job's
// directory.
func sandboxName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) || strings.Contains(name, "\\") {
		return false
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
