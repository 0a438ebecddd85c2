// Package statefile keeps the detector's windows, mutes and watermark
// across restarts, in one JSON file replaced atomically.
package statefile

import (
	"os"
	"path/filepath"
	"time"

	jsoniter "github.com/json-iterator/go"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
)

// File keeps the detector's state across restarts: a harvest that
// straddles a Fluent Bit restart is still one harvest. The file is replaced
// atomically (write, fsync, rename), so a crash leaves either the old state
// or the new one.
type File struct {
	path     string
	log      *logging.Logger
	lastSave time.Time
}

// stateEnvelope adds what is needed to judge a file before trusting it.
type stateEnvelope struct {
	SavedAt int64            `json:"saved_at"`
	State   *detect.Snapshot `json:"state"`
}

// New returns the state file at path.
func New(path string, log *logging.Logger) *File {
	return &File{path: path, log: log, lastSave: time.Now()}
}

// Restore loads the file into a new engine. A missing file is a first
// start; a corrupt, foreign or stale one (saved longer ago than the window)
// is set aside with a log line, never fatal.
func (s *File) Restore(e *detect.Engine) {
	b, err := os.ReadFile(s.path)
	if os.IsNotExist(err) {
		s.log.Infof("state: no %s yet, starting empty", s.path)
		return
	}
	if err != nil {
		s.log.Warnf("state: cannot read %s, starting empty: %v", s.path, err)
		return
	}
	var env stateEnvelope
	if err := jsoniter.ConfigCompatibleWithStandardLibrary.Unmarshal(b, &env); err != nil || env.State == nil {
		s.setAside("corrupt", err)
		return
	}
	age := time.Since(time.Unix(0, env.SavedAt))
	if window := e.Settings().Window; age > window {
		s.log.Infof("state: %s was saved %s ago, longer than the window (%s): starting empty", s.path, age.Round(time.Second), window)
		return
	}
	if err := e.Restore(env.State); err != nil {
		s.setAside("not usable", err)
		return
	}
	st := e.Stats()
	s.log.Infof("state: restored %d fingerprint(s), %d record(s), watermark %s from %s",
		st.Fingerprints, st.Records, detect.FormatTime(st.Watermark), s.path)
}

func (s *File) setAside(why string, err error) {
	aside := s.path + ".bad"
	if rerr := os.Rename(s.path, aside); rerr != nil {
		aside = s.path
	}
	s.log.Warnf("state: %s is %s (%v): moved to %s, starting empty", s.path, why, err, aside)
}

// MaybeSave saves when the last save is older than every.
func (s *File) MaybeSave(e *detect.Engine, now time.Time, every time.Duration) {
	if now.Sub(s.lastSave) >= every {
		s.Save(e)
	}
}

// Save writes the engine's state now.
func (s *File) Save(e *detect.Engine) {
	s.lastSave = time.Now()
	if err := s.write(e.Snapshot()); err != nil && s.log.Every("state.save", time.Minute) {
		s.log.Errorf("state: saving %s: %v", s.path, err)
	}
}

func (s *File) write(snap *detect.Snapshot) error {
	b, err := jsoniter.ConfigCompatibleWithStandardLibrary.Marshal(stateEnvelope{SavedAt: time.Now().UnixNano(), State: snap})
	if err != nil {
		return err
	}
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
