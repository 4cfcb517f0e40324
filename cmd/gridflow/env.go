package main

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gridflow/gridflow/agent/checksum"
)

func envCommand() *cli.Command {
	// -o and --output are two flags to the flag package: one variable
	// holds them, whichever was written (before or after DIR).
	var output string
	return &cli.Command{
		Name:  "env",
		Usage: "make environment images for deployments and publish them in the catalog",
		Subcommands: []*cli.Command{
			{Name: "pack", Usage: "make an image archive (tar.gz) of a directory and print its checksum",
				ArgsUsage: "DIR [-o FILE] [--algorithm sha256|md5|adler32] [--register NAME@VERSION --url URL]",
				Description: "Packs DIR as the root of an environment, the way a gridflow agent unpacks it into\n" +
					"envs/<name>/: regular files, directories and symbolic links, with their permission bits.\n" +
					"The archive is reproducible: entries in name order, times set to the UNIX epoch, owners\n" +
					"to root, so the same tree always gives the same bytes and the same checksum. Devices,\n" +
					"fifos and sockets are left out (an agent would skip them); hard links become copies.\n\n" +
					"With --register the archive is added to the environments catalog as NAME@VERSION, with\n" +
					"--url the address the nodes download it from (http(s):// or file:<path> in the agents'\n" +
					"file area): put the archive there yourself.",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Destination: &output, Usage: "the archive to write (default: DIR's name + .tar.gz, here)"},
					&cli.StringFlag{Name: "algorithm", Value: checksum.Default, Usage: "checksum algorithm: sha256, md5 or adler32"},
					&cli.StringFlag{Name: "register", Usage: "add the archive to the catalog as NAME@VERSION"},
					&cli.StringFlag{Name: "url", Usage: "with --register: where the nodes download the archive"},
					&cli.StringFlag{Name: "description", Usage: "with --register: a description"},
					&cli.StringFlag{Name: "os", Usage: "with --register: the OS family, e.g. debian12"},
					&cli.StringFlag{Name: "visibility", Value: "private", Usage: "with --register: private, project or public (administrators)"},
					&cli.StringFlag{Name: "project", Usage: "with --register and visibility project: one of your projects"},
				}, clientFlags...),
				Action: func(c *cli.Context) error { return envPack(c, &output) }},
		},
	}
}

// packResult says what envPack wrote.
type packResult struct {
	File     string
	Size     int64
	Checksum checksum.Sum
	Entries  int
	Skipped  []string
}

func envPack(c *cli.Context, output *string) error {
	args, err := positional(c)
	if errors.Is(err, errHelpShown) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return fmt.Errorf("give one directory to pack: gridflow env pack DIR [-o FILE]")
	}
	dir := args[0]
	algo := c.String("algorithm")
	if err := checksum.CheckAlgorithm(algo); err != nil {
		return fmt.Errorf("--algorithm: %w", err)
	}
	var name, version string
	if ref := c.String("register"); ref != "" {
		var ok bool
		name, version, ok = strings.Cut(ref, "@")
		if !ok || name == "" || version == "" {
			return fmt.Errorf("--register %q: write NAME@VERSION, as in my-debian@1", ref)
		}
		if c.String("url") == "" {
			return fmt.Errorf("--register needs --url: the address the nodes download the archive from (http(s):// or file:<path> in the agents' file area)")
		}
	}
	out := *output
	if out == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		out = filepath.Base(abs) + ".tar.gz"
	}
	res, err := packEnvironment(dir, out, algo)
	if err != nil {
		return err
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(c.App.ErrWriter, "gridflow: left out %s (not a regular file, directory or symbolic link)\n", s)
	}
	fmt.Fprintf(c.App.Writer, "file      %s\nentries   %d\nsize      %d\nchecksum  %s\n", res.File, res.Entries, res.Size, res.Checksum)
	if name == "" {
		return nil
	}
	body := map[string]any{"name": name, "version": version, "url": c.String("url"), "checksum": res.Checksum.String(), "size": res.Size,
		"description": c.String("description"), "os": c.String("os"), "visibility": c.String("visibility"), "project": c.String("project")}
	var env struct {
		UID   string `json:"uid"`
		Links []struct{ Rel, Href string }
	}
	if err := call(c, "POST", "/v1/environments", "application/json", jsonBody(body), &env); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "registered %s\n", env.UID)
	return nil
}

// epoch is the time every entry of an archive gets: archives of the same
// tree are then byte for byte the same.
var epoch = time.Unix(0, 0).UTC()

// packEnvironment writes dir as a gzip-compressed tar to out (through a
// temporary file beside it, renamed once complete) and returns its size and
// checksum with algo.
func packEnvironment(dir, out, algo string) (packResult, error) {
	res := packResult{File: out}
	st, err := os.Stat(dir)
	if err != nil {
		return res, fmt.Errorf("cannot pack %s: %w", dir, err)
	}
	if !st.IsDir() {
		return res, fmt.Errorf("cannot pack %s: it is not a directory", dir)
	}
	absOut, _ := filepath.Abs(out)
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return res, fmt.Errorf("cannot write the archive: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	defer tmp.Close()
	h, _ := checksum.NewHasher(algo)
	gz, _ := gzip.NewWriterLevel(io.MultiWriter(tmp, h), gzip.BestCompression)
	tw := tar.NewWriter(gz)
	absTmp, _ := filepath.Abs(tmp.Name())
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if abs, _ := filepath.Abs(p); abs == absOut || abs == absTmp {
			return nil // the archive being written inside the tree
		}
		name := filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		hd := &tar.Header{Name: name, Mode: int64(fi.Mode().Perm()), ModTime: epoch}
		switch {
		case fi.Mode().IsRegular():
			hd.Typeflag, hd.Size = tar.TypeReg, fi.Size()
		case fi.IsDir():
			hd.Typeflag, hd.Name = tar.TypeDir, name+"/"
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			hd.Typeflag, hd.Linkname, hd.Mode = tar.TypeSymlink, target, 0o777
		default:
			res.Skipped = append(res.Skipped, name)
			return nil
		}
		if err := tw.WriteHeader(hd); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		res.Entries++
		if hd.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		// A file that grows while it is packed would break the tar stream:
		// copy exactly the size the header announced.
		if _, err := io.CopyN(tw, f, hd.Size); err != nil {
			return fmt.Errorf("%s changed while it was packed: %w", name, err)
		}
		return nil
	})
	if err == nil && res.Entries == 0 {
		err = fmt.Errorf("%s is empty: an environment needs at least one file", dir)
	}
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Close()
	}
	if err != nil {
		return res, fmt.Errorf("cannot pack %s: %w", dir, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return res, err
	}
	res.Size, res.Checksum = h.Size(), h.Sum(algo)
	return res, nil
}
