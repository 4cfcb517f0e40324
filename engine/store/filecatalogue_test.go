package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestCleanLFN(t *testing.T) {
	for in, want := range map[string]string{
		"/":                   "/",
		"/alice":              "/alice",
		"/alice/":             "/alice",
		"/alice/run 1/a.root": "/alice/run 1/a.root",
		"/é/ü":                "/é/ü",
	} {
		got, err := CleanLFN(in)
		if err != nil || got != want {
			t.Errorf("CleanLFN(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "alice", "//", "/a//b", "/a/./b", "/a/..", "/a\x00b", "/a\nb", "/\xff", "/" + strings.Repeat("x", 256), strings.Repeat("/x", 600)} {
		if got, err := CleanLFN(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("CleanLFN(%q) = %q, %v; want ErrInvalid", bad, got, err)
		}
	}
	if got := lfnAncestors("/a/b/c"); !slices.Equal(got, []string{"/", "/a", "/a/b"}) {
		t.Errorf("lfnAncestors = %v", got)
	}
}

func TestParseMetaCondition(t *testing.T) {
	for _, c := range []struct {
		key, raw string
		want     MetaCondition
	}{
		{"run", "<|5", MetaCondition{Key: "run", Op: "<", Num: 5}},
		{"run", ">=|-1.5e3", MetaCondition{Key: "run", Op: ">=", Num: -1500}},
		{"run", "=|7", MetaCondition{Key: "run", Op: "=", Num: 7}},
		{"site", "in|rennes, lyon,,nancy", MetaCondition{Key: "site", Op: "in", In: []string{"rennes", "lyon", "nancy"}}},
		{"site", "in|a|b", MetaCondition{Key: "site", Op: "in", In: []string{"a|b"}}},
	} {
		got, err := ParseMetaCondition(c.key, c.raw)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseMetaCondition(%q, %q) = %+v, %v; want %+v", c.key, c.raw, got, err, c.want)
		}
	}
	for raw, mention := range map[string]string{
		"5":      "op|value",
		"!=|5":   "unknown operator",
		"like|x": "unknown operator",
		"<|five": "not one",
		"<|NaN":  "not one",
		"in|":    "comma-separated",
		"in| , ": "comma-separated",
	} {
		_, err := ParseMetaCondition("run", raw)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), mention) {
			t.Errorf("ParseMetaCondition(run, %q): %v; want ErrInvalid mentioning %q", raw, err, mention)
		}
	}
}

func TestCatalogFilesAndReplicas(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		f, err := s.RegisterCatalogFile(ctx, CatalogFile{Path: "/alice/run1/out.dat", Owner: "alice", Size: 42, Checksum: "ADLER32:0A1B2C3D",
			Replicas: []CatalogReplica{{URL: "node://n-1/data/out.dat"}, {URL: "file:///srv/data/out.dat"}, {URL: "node://n-1/data/out.dat"}},
			Metadata: Metadata{"quality": "good"}})
		must(t, err, "RegisterCatalogFile")
		if f.Size != 42 || f.Checksum != "adler32:0a1b2c3d" || f.Owner != "alice" || len(f.Replicas) != 2 || f.Metadata["quality"] != "good" || f.CreatedAt.IsZero() {
			t.Fatalf("registered %+v", f)
		}
		ses := []string{f.Replicas[0].SE, f.Replicas[1].SE}
		slices.Sort(ses)
		if !slices.Equal(ses, []string{"file://localhost", "node://n-1"}) {
			t.Fatalf("storage elements %v", ses)
		}
		// The parents were made, owned by the registrant.
		d, err := s.GetCatalogDir(ctx, "/alice/run1")
		must(t, err, "GetCatalogDir parent")
		if d.Owner != "alice" {
			t.Fatalf("parent %+v", d)
		}
		_, err = s.RegisterCatalogFile(ctx, CatalogFile{Path: "/alice/run1/out.dat", Owner: "alice", Size: 1})
		wantErr(t, err, ErrConflict, "register twice")
		_, err = s.RegisterCatalogFile(ctx, CatalogFile{Path: "/alice/run1", Owner: "alice", Size: 1})
		wantErr(t, err, ErrConflict, "register a directory's path")
		_, _, err = s.MakeCatalogDir(ctx, "/alice/run1/out.dat/sub", "alice", nil, false)
		wantErr(t, err, ErrConflict, "directory under a file")
		for _, bad := range []CatalogFile{
			{Path: "/", Owner: "alice"},
			{Path: "relative/x", Owner: "alice"},
			{Path: "/alice/neg", Owner: "alice", Size: -1},
			{Path: "/alice/sum", Owner: "alice", Checksum: "crc32:1234"},
			{Path: "/alice/sum", Owner: "alice", Checksum: "adler32:123"},
			{Path: "/alice/url", Owner: "alice", Replicas: []CatalogReplica{{URL: "no scheme"}}},
			{Path: "/alice/url", Owner: "alice", Replicas: []CatalogReplica{{URL: "node:///no-host"}}},
			{Path: "/alice/meta", Owner: "alice", Metadata: Metadata{"ok": true}},
		} {
			_, err := s.RegisterCatalogFile(ctx, bad)
			wantErr(t, err, ErrInvalid, fmt.Sprintf("register %+v", bad))
		}
		// A refused registration left nothing behind.
		if _, err := s.GetCatalogFile(ctx, "/alice/url"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("refused file was registered: %v", err)
		}

		f, err = s.AddCatalogReplica(ctx, "/alice/run1/out.dat", "https://storage.example.org/out.dat")
		must(t, err, "AddCatalogReplica")
		if len(f.Replicas) != 3 {
			t.Fatalf("replicas %+v", f.Replicas)
		}
		_, err = s.AddCatalogReplica(ctx, "/alice/run1/out.dat", "https://storage.example.org/out.dat")
		wantErr(t, err, ErrConflict, "same replica twice")
		_, err = s.AddCatalogReplica(ctx, "/alice/run1/none.dat", "node://n-1/x")
		wantErr(t, err, ErrNotFound, "replica of an unknown file")
		_, err = s.AddCatalogReplica(ctx, "/alice/run1", "node://n-1/x")
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "is a directory") {
			t.Fatalf("replica of a directory: %v", err)
		}

		must(t, s.RemoveCatalogReplica(ctx, "/alice/run1/out.dat", "node://n-1/data/out.dat"), "RemoveCatalogReplica")
		wantErr(t, s.RemoveCatalogReplica(ctx, "/alice/run1/out.dat", "node://n-1/data/out.dat"), ErrNotFound, "remove twice")
		f, err = s.GetCatalogFile(ctx, "/alice/run1/out.dat")
		must(t, err, "GetCatalogFile")
		if len(f.Replicas) != 2 || slices.ContainsFunc(f.Replicas, func(r CatalogReplica) bool { return r.URL == "node://n-1/data/out.dat" }) {
			t.Fatalf("replicas after removal %+v", f.Replicas)
		}

		must(t, s.DeleteCatalogFile(ctx, "/alice/run1/out.dat"), "DeleteCatalogFile")
		wantErr(t, s.DeleteCatalogFile(ctx, "/alice/run1/out.dat"), ErrNotFound, "delete twice")
		_, err = s.GetCatalogFile(ctx, "/alice/run1/out.dat")
		wantErr(t, err, ErrNotFound, "get deleted")
		var n int
		must(t, s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM catalog_replicas`).Scan(&n), "count replicas")
		if n != 0 {
			t.Fatalf("%d replicas outlived their file", n)
		}
		// Registering again after the delete works.
		_, err = s.RegisterCatalogFile(ctx, CatalogFile{Path: "/alice/run1/out.dat", Owner: "alice", Size: 7})
		must(t, err, "register after delete")
	})
}

func TestCatalogDirsAndMetadata(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		root, err := s.GetCatalogDir(ctx, "/")
		must(t, err, "root")
		if root.Path != "/" || root.CreatedAt.IsZero() {
			t.Fatalf("root %+v", root)
		}
		d, created, err := s.MakeCatalogDir(ctx, "/bob/exp", "bob", Metadata{"experiment": "atlas", "year": 2031.0}, true)
		must(t, err, "MakeCatalogDir")
		if !created || d.Owner != "bob" || d.Metadata["experiment"] != "atlas" || d.Metadata["year"] != 2031.0 || len(d.InheritedFrom) != 0 {
			t.Fatalf("made %+v created %v", d, created)
		}
		_, _, err = s.MakeCatalogDir(ctx, "/bob/exp", "bob", nil, true)
		wantErr(t, err, ErrConflict, "exclusive make of an existing directory")
		_, created, err = s.MakeCatalogDir(ctx, "/bob/exp/", "bob", nil, false)
		must(t, err, "make existing")
		if created {
			t.Fatal("existing directory reported as created")
		}

		// A subdirectory inherits, and overrides what it sets itself.
		_, _, err = s.MakeCatalogDir(ctx, "/bob/exp/run7", "bob", Metadata{"run": 7, "year": int64(2032)}, false)
		must(t, err, "make run7")
		sub, err := s.GetCatalogDir(ctx, "/bob/exp/run7")
		must(t, err, "get run7")
		want := Metadata{"experiment": "atlas", "year": 2032.0, "run": 7.0}
		if !reflect.DeepEqual(sub.Metadata, want) || !reflect.DeepEqual(sub.InheritedFrom, map[string]string{"experiment": "/bob/exp"}) {
			t.Fatalf("run7 metadata %v from %v", sub.Metadata, sub.InheritedFrom)
		}
		// Files inherit from every directory above.
		_, err = s.RegisterCatalogFile(ctx, CatalogFile{Path: "/bob/exp/run7/a.dat", Owner: "bob", Size: 1, Metadata: Metadata{"quality": "good"}})
		must(t, err, "register a.dat")
		f, err := s.GetCatalogFile(ctx, "/bob/exp/run7/a.dat")
		must(t, err, "get a.dat")
		if f.Metadata["run"] != 7.0 || f.Metadata["experiment"] != "atlas" || f.Metadata["quality"] != "good" ||
			f.InheritedFrom["run"] != "/bob/exp/run7" || f.InheritedFrom["quality"] != "" {
			t.Fatalf("a.dat metadata %v from %v", f.Metadata, f.InheritedFrom)
		}

		// A key keeps the type of its first use, on directories and files alike.
		_, err = s.SetCatalogDirMetadata(ctx, "/bob/exp", Metadata{"run": "seven"})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "holds numbers") {
			t.Fatalf("type conflict: %v", err)
		}
		_, err = s.SetCatalogFileMetadata(ctx, "/bob/exp/run7/a.dat", Metadata{"experiment": 3})
		wantErr(t, err, ErrInvalid, "type conflict on a file")
		for _, bad := range []Metadata{{"offset": 1}, {"Verbose": "x"}, {"9lives": 1}, {"bad key": 1}, {"x": []any{1}}, {"x": strings.Repeat("v", MaxMetaStringLength+1)}} {
			_, err := s.SetCatalogDirMetadata(ctx, "/bob/exp", bad)
			wantErr(t, err, ErrInvalid, fmt.Sprintf("metadata %v", bad))
		}
		// A refused change changes nothing, not even the keys.
		_, err = s.SetCatalogDirMetadata(ctx, "/bob/exp", Metadata{"aaa": 1, "run": "seven"})
		wantErr(t, err, ErrInvalid, "partly bad change")
		keys, err := s.CatalogMetaKeys(ctx)
		must(t, err, "CatalogMetaKeys")
		wantKeys := []CatalogMetaKey{{"experiment", MetaString}, {"quality", MetaString}, {"run", MetaNumber}, {"year", MetaNumber}}
		if !reflect.DeepEqual(keys, wantKeys) {
			t.Fatalf("keys %v, want %v", keys, wantKeys)
		}

		// nil removes a key; the inherited value shows through again.
		sub, err = s.SetCatalogDirMetadata(ctx, "/bob/exp/run7", Metadata{"year": nil, "run": 8})
		must(t, err, "SetCatalogDirMetadata")
		if sub.Metadata["year"] != 2031.0 || sub.InheritedFrom["year"] != "/bob/exp" || sub.Metadata["run"] != 8.0 {
			t.Fatalf("after removal %v from %v", sub.Metadata, sub.InheritedFrom)
		}
		_, err = s.SetCatalogDirMetadata(ctx, "/bob/nothing", Metadata{"run": 1})
		wantErr(t, err, ErrNotFound, "metadata of an unknown directory")
		_, err = s.SetCatalogFileMetadata(ctx, "/bob/exp/run7/none", Metadata{"run": 1})
		wantErr(t, err, ErrNotFound, "metadata of an unknown file")
		_, err = s.GetCatalogDir(ctx, "/bob/exp/run7/a.dat")
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "is a file") {
			t.Fatalf("a file as a directory: %v", err)
		}
	})
}

func TestCatalogListDir(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for _, d := range []string{"/c/z", "/c/a"} {
			_, _, err := s.MakeCatalogDir(ctx, d, "carol", Metadata{"tag": d}, false)
			must(t, err, "make "+d)
		}
		for i := range 5 {
			_, err := s.RegisterCatalogFile(ctx, CatalogFile{Path: fmt.Sprintf("/c/f%d", i), Owner: "carol", Size: int64(i), Checksum: "adler32:00000001",
				Replicas: []CatalogReplica{{URL: fmt.Sprintf("node://n-1/f%d", i)}}, Metadata: Metadata{"n": i}})
			must(t, err, "register")
		}
		all, total, err := s.ListCatalogDir(ctx, "/c", false, 0, 0)
		must(t, err, "ListCatalogDir")
		var names []string
		for _, e := range all {
			names = append(names, e.Kind+":"+e.Path)
		}
		wantNames := []string{"directory:/c/a", "directory:/c/z", "file:/c/f0", "file:/c/f1", "file:/c/f2", "file:/c/f3", "file:/c/f4"}
		if total != 7 || !slices.Equal(names, wantNames) {
			t.Fatalf("listing %v total %d", names, total)
		}
		if all[0].Metadata != nil || all[3].Replicas != nil || all[3].Size != 1 {
			t.Fatalf("terse listing %+v", all)
		}
		page, total, err := s.ListCatalogDir(ctx, "/c", true, 1, 3)
		must(t, err, "ListCatalogDir verbose page")
		if total != 7 || len(page) != 3 || page[0].Path != "/c/z" || page[0].Metadata["tag"] != "/c/z" ||
			page[1].Path != "/c/f0" || len(page[1].Replicas) != 1 || page[1].Metadata["n"] != 0.0 || page[1].Checksum != "adler32:00000001" {
			t.Fatalf("verbose page %+v", page)
		}
		rootList, _, err := s.ListCatalogDir(ctx, "/", false, 0, 0)
		must(t, err, "list root")
		if len(rootList) != 1 || rootList[0].Path != "/c" {
			t.Fatalf("root %+v", rootList)
		}
		_, _, err = s.ListCatalogDir(ctx, "/nope", false, 0, 0)
		wantErr(t, err, ErrNotFound, "list unknown")
		_, _, err = s.ListCatalogDir(ctx, "/c/f1", false, 0, 0)
		wantErr(t, err, ErrNotFound, "list a file")
	})
}

// TestCatalogSearch searches a few hundred directories and files with every
// operator and checks the answers against the same selection made in Go.
func TestCatalogSearch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		sites := []string{"rennes", "lyon", "nancy"}
		const runs = 120
		_, _, err := s.MakeCatalogDir(ctx, "/dana/exp", "dana", Metadata{"experiment": "cms"}, false)
		must(t, err, "make exp")
		type entry struct {
			run   float64
			site  string
			size  int64
			files int
		}
		want := map[string]entry{}
		for i := range runs {
			dir := fmt.Sprintf("/dana/exp/run%03d", i)
			site := sites[i%3]
			_, _, err := s.MakeCatalogDir(ctx, dir, "dana", Metadata{"run": i, "site": site}, false)
			must(t, err, "make "+dir)
			e := entry{run: float64(i), site: site}
			for j := range i%3 + 1 {
				size := int64(i*10 + j)
				var meta Metadata
				if j == 1 {
					meta = Metadata{"quality": []string{"good", "bad"}[i%2]}
				}
				_, err := s.RegisterCatalogFile(ctx, CatalogFile{Path: fmt.Sprintf("%s/f%d", dir, j), Owner: "dana", Size: size, Metadata: meta})
				must(t, err, "register")
				e.size += size
				e.files++
			}
			want[dir] = e
		}
		// A deeper directory inherits its run's metadata.
		_, err = s.RegisterCatalogFile(ctx, CatalogFile{Path: "/dana/exp/run005/sub/deep.dat", Owner: "dana", Size: 1000})
		must(t, err, "register deep")
		want["/dana/exp/run005"] = entry{run: 5, site: "nancy", files: 4, size: 50 + 51 + 52 + 1000}

		pick := func(keep func(e entry) bool) []string {
			var out []string
			for p, e := range want {
				if keep(e) {
					out = append(out, p)
				}
			}
			slices.Sort(out)
			return out
		}
		cond := func(key, raw string) MetaCondition {
			c, err := ParseMetaCondition(key, raw)
			must(t, err, "ParseMetaCondition")
			return c
		}
		for _, c := range []struct {
			conds []MetaCondition
			keep  func(e entry) bool
		}{
			{[]MetaCondition{cond("run", "<|10")}, func(e entry) bool { return e.run < 10 }},
			{[]MetaCondition{cond("run", ">|100")}, func(e entry) bool { return e.run > 100 }},
			{[]MetaCondition{cond("run", "=|42")}, func(e entry) bool { return e.run == 42 }},
			{[]MetaCondition{cond("run", "<=|10")}, func(e entry) bool { return e.run <= 10 }},
			{[]MetaCondition{cond("run", ">=|110")}, func(e entry) bool { return e.run >= 110 }},
			{[]MetaCondition{cond("site", "in|lyon")}, func(e entry) bool { return e.site == "lyon" }},
			{[]MetaCondition{cond("site", "in|lyon,nancy"), cond("run", ">=|30"), cond("run", "<|40")},
				func(e entry) bool { return e.site != "rennes" && e.run >= 30 && e.run < 40 }},
			{[]MetaCondition{cond("site", "in|paris")}, func(entry) bool { return false }},
		} {
			got, err := s.SearchCatalogDirs(ctx, "/dana", c.conds)
			must(t, err, fmt.Sprint("search ", c.conds))
			var paths []string
			for _, u := range got {
				if strings.Count(u.Path, "/") != 3 {
					continue // run005/sub, checked below
				}
				paths = append(paths, u.Path)
				e := want[u.Path]
				if u.Files != e.files || u.Size != e.size {
					t.Fatalf("%s: %d files of %d bytes, want %d of %d", u.Path, u.Files, u.Size, e.files, e.size)
				}
				if u.Metadata["experiment"] != "cms" {
					t.Fatalf("%s lacks the inherited experiment: %v", u.Path, u.Metadata)
				}
			}
			if w := pick(c.keep); !slices.Equal(paths, w) {
				t.Fatalf("search %v found %v, want %v", c.conds, paths, w)
			}
		}

		// Subtree totals: run005 holds its files and sub/deep.dat.
		got, err := s.SearchCatalogDirs(ctx, "/dana/exp/run005", nil)
		must(t, err, "search run005")
		if len(got) != 2 || got[0].Path != "/dana/exp/run005" || got[0].Files != 4 || got[0].Size != 50+51+52+1000 ||
			got[1].Path != "/dana/exp/run005/sub" || got[1].Files != 1 || got[1].Metadata["run"] != 5.0 {
			t.Fatalf("run005 search %+v", got)
		}
		all, err := s.SearchCatalogDirs(ctx, "/", []MetaCondition{cond("experiment", "in|cms")})
		must(t, err, "search from root")
		var files int
		for _, u := range all {
			if u.Path == "/dana/exp" {
				files = u.Files
			}
		}
		if len(all) != runs+2 || files != runs*2+1 { // the runs, run005/sub and exp itself; 1+2+3 files per 3 runs, and deep.dat
			t.Fatalf("root search: %d directories, exp has %d files", len(all), files)
		}

		// Compatible values: the sites of the runs below 3, and the quality
		// of their files.
		compat, err := s.CompatibleCatalogMetadata(ctx, "/dana", []MetaCondition{cond("run", "<|3")})
		must(t, err, "CompatibleCatalogMetadata")
		if !reflect.DeepEqual(compat["site"], []any{"lyon", "nancy", "rennes"}) || !reflect.DeepEqual(compat["run"], []any{0.0, 1.0, 2.0}) ||
			!reflect.DeepEqual(compat["quality"], []any{"bad", "good"}) || !reflect.DeepEqual(compat["experiment"], []any{"cms"}) {
			t.Fatalf("compatible %v", compat)
		}
		compat, err = s.CompatibleCatalogMetadata(ctx, "/", []MetaCondition{cond("quality", "in|bad"), cond("run", "<|10")})
		must(t, err, "compatible by file metadata")
		if !reflect.DeepEqual(compat["run"], []any{1.0, 5.0, 7.0}) {
			t.Fatalf("runs with a bad file below 10: %v", compat["run"])
		}

		// Conditions on unknown keys or of the wrong type are refused.
		for _, bad := range []MetaCondition{cond("nokey", "<|1"), cond("site", "<|1"), cond("run", "in|1,2")} {
			_, err := s.SearchCatalogDirs(ctx, "/", []MetaCondition{bad})
			wantErr(t, err, ErrInvalid, fmt.Sprint("search ", bad))
			_, err = s.CompatibleCatalogMetadata(ctx, "/", []MetaCondition{bad})
			wantErr(t, err, ErrInvalid, fmt.Sprint("compatible ", bad))
		}
		_, err = s.SearchCatalogDirs(ctx, "/nowhere", nil)
		wantErr(t, err, ErrNotFound, "search an unknown directory")
	})
}

func TestRegisterReplica(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		// A new file under a user's existing directory takes its owner.
		_, _, err := s.MakeCatalogDir(ctx, "/erin/in", "erin", nil, false)
		must(t, err, "make")
		must(t, s.RegisterReplica(ctx, "/erin/in/deep/x.dat", "node://n-2/x.dat", 10, ""), "RegisterReplica new")
		f, err := s.GetCatalogFile(ctx, "/erin/in/deep/x.dat")
		must(t, err, "get")
		if f.Owner != "erin" || f.Size != 10 || f.Checksum != "" || len(f.Replicas) != 1 || f.Replicas[0].SE != "node://n-2" {
			t.Fatalf("registered %+v", f)
		}
		if d, _ := s.GetCatalogDir(ctx, "/erin/in/deep"); d.Owner != "erin" {
			t.Fatalf("made directory %+v", d)
		}
		// Again (a retried activity): nothing changes. A checksum it lacked is kept.
		must(t, s.RegisterReplica(ctx, "/erin/in/deep/x.dat", "node://n-2/x.dat", 10, "adler32:0000000A"), "RegisterReplica again")
		must(t, s.RegisterReplica(ctx, "/erin/in/deep/x.dat", "file:///srv/x.dat", 10, "sha256:"+strings.Repeat("ab", 32)), "RegisterReplica other algorithm")
		f, _ = s.GetCatalogFile(ctx, "/erin/in/deep/x.dat")
		if len(f.Replicas) != 2 || f.Checksum != "adler32:0000000a" {
			t.Fatalf("after more replicas %+v", f)
		}
		wantErr(t, s.RegisterReplica(ctx, "/erin/in/deep/x.dat", "node://n-3/x.dat", 11, ""), ErrConflict, "other size")
		wantErr(t, s.RegisterReplica(ctx, "/erin/in/deep/x.dat", "node://n-3/x.dat", 10, "adler32:0000000b"), ErrConflict, "other checksum")
		wantErr(t, s.RegisterReplica(ctx, "/erin/in", "node://n-3/x.dat", 10, ""), ErrConflict, "a directory")
		wantErr(t, s.RegisterReplica(ctx, "erin/x", "node://n-3/x.dat", 10, ""), ErrInvalid, "relative path")
		wantErr(t, s.RegisterReplica(ctx, "/erin/y", "not a url", 10, ""), ErrInvalid, "bad URL")
		wantErr(t, s.RegisterReplica(ctx, "/erin/y", "node://n-3/y", 10, "md5:zz"), ErrInvalid, "bad checksum")
		// Under the root only, the first name is the owner.
		must(t, s.RegisterReplica(ctx, "/frank/out/y.dat", "node://n-2/y.dat", 0, ""), "RegisterReplica new tree")
		if f, _ := s.GetCatalogFile(ctx, "/frank/out/y.dat"); f.Owner != "frank" {
			t.Fatalf("owner %q", f.Owner)
		}
	})
}

// TestCatalogSubtreeBounds: a subtree is a range of paths; names that sort
// next to it ("a-b", "a.b", "a0", "ab") are not in it.
func TestCatalogSubtreeBounds(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for _, d := range []string{"/g/a/b/c", "/g/a-b", "/g/a.b", "/g/a0", "/g/ab", "/g/A"} {
			_, _, err := s.MakeCatalogDir(ctx, d, "gina", nil, false)
			must(t, err, "make "+d)
			_, err = s.RegisterCatalogFile(ctx, CatalogFile{Path: d + "/f", Owner: "gina", Size: 1})
			must(t, err, "register in "+d)
		}
		got, err := s.SearchCatalogDirs(ctx, "/g/a", nil)
		must(t, err, "search")
		var paths []string
		for _, u := range got {
			paths = append(paths, u.Path)
		}
		if !slices.Equal(paths, []string{"/g/a", "/g/a/b", "/g/a/b/c"}) || got[0].Files != 1 {
			t.Fatalf("subtree of /g/a: %v (%+v)", paths, got)
		}
	})
}
