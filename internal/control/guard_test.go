package control

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestGuardTable(t *testing.T) {
	f, err := os.Open("testdata/guard.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reached := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	sc := bufio.NewScanner(f)
	n := 0
	for line := 0; sc.Scan(); {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) != 7 {
			t.Fatalf("testdata/guard.txt:%d: want 7 fields, have %d", line, len(fields))
		}
		path, origin, host, peer, token, loopback := fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]
		want, _ := strconv.Atoi(fields[6])
		g := &Guard{Token: "s3cret", LoopbackListener: loopback == "yes", Next: reached}
		r := httptest.NewRequest(http.MethodPost, "http://"+host+path, strings.NewReader("{}"))
		r.Host, r.RemoteAddr = host, peer
		r.Header.Set("Content-Type", "text/plain")
		if origin != "-" {
			r.Header.Set("Origin", origin)
		}
		switch token {
		case "ok":
			r.Header.Set(TokenHeader, "Bearer s3cret")
		case "-":
		default:
			r.Header.Set(TokenHeader, "Bearer "+token)
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("testdata/guard.txt:%d: %s → %d, want %d (%s)", line, sc.Text(), w.Code, want, strings.TrimSpace(w.Body.String()))
		}
		n++
	}
	if n < 10 {
		t.Fatalf("only %d cases read", n)
	}
}

func TestInfoFileIsPrivate(t *testing.T) {
	dir := t.TempDir()
	if err := WriteInfo(dir, Info{PID: os.Getpid(), Token: NewToken()}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir + "/" + InfoFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600: it holds the control API token", InfoFile, st.Mode().Perm())
	}
	if a, b := NewToken(), NewToken(); a == b || len(a) != 64 {
		t.Fatalf("tokens %q and %q", a, b)
	}
}
