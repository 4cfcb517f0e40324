reservation "exp" {
  site  = "rennes"
  nodes = 2
}

transfer "bad" {
  files {
    source      = "ftp://example.org/data.tar"
    destination = "node://${reservation.exp.nodes[0]}/tmp/data.tar"
    checksum    = "sha1:abcd"
  }

  files {
    source      = "http://example.org/a.tar"
    sources     = ["http://example.org/b.tar"]
    destination = "file:///tmp/b.tar"
    checksum    = "sha256:abcd"
  }

  files {
    destination = "node:///tmp/c.tar"
  }

  files {
    sources     = ["lfn:/alice/ok.tar", "lfn:alice/relative.tar"]
    destination = "lfn:/alice/copy.tar"
    lfn         = "alice/relative.tar"
  }

  priority = 9
}

transfer "empty" {
  overwrite = true
}
