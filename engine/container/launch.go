package container

import (
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/engine/monitor"
)

// containerDir is where the store keeps container id's files under root
// (its graph root or its run root): the layout containers/storage uses,
// known before the container exists.
func (e *Engine) containerDir(root, id string) string {
	return filepath.Join(root, e.Store.GraphDriverName()+"-containers", id, "userdata")
}

// launchEarly starts c's conmon before c's storage exists (Create with
// StartMonitor), so that conmon loads while the store works. conmon opens
// the log as it starts: the directories the store is about to make for
// c, the log's and the bundle, are made first. It returns nil when c's
// conmon needs what only the start makes (the held ports of published
// ports) or cannot be started now; the start launches one then.
func (e *Engine) launchEarly(c *Container) *monitor.Launched {
	if c.Network == "bridge" && !e.Rootless && len(c.Ports) > 0 {
		return nil
	}
	if c.LogDriver == "k8s-file" && filepath.Dir(c.LogPath) == e.containerDir(e.Store.GraphRoot(), c.ID) {
		if err := os.MkdirAll(filepath.Dir(c.LogPath), 0o700); err != nil {
			logrus.Debugf("making the log directory of %s: %v", c.ID, err)
			return nil
		}
	}
	bundle := e.containerDir(e.Store.RunRoot(), c.ID)
	l, err := monitor.Launch(e.monitorOptions(c, bundle, nil), [3]*os.File{os.Stdin, os.Stdout, os.Stderr})
	if err != nil {
		logrus.Debugf("launching conmon early for %s: %v", c.ID, err)
		e.removeContainerDirs(c.ID)
		return nil
	}
	return l
}

// removeContainerDirs removes what launchEarly made for a container whose
// storage could not be made.
func (e *Engine) removeContainerDirs(id string) {
	for _, root := range []string{e.Store.GraphRoot(), e.Store.RunRoot()} {
		os.RemoveAll(filepath.Dir(e.containerDir(root, id)))
	}
}

// keepLaunched holds container id's early conmon for its start.
func (e *Engine) keepLaunched(id string, l *monitor.Launched) {
	e.launchMu.Lock()
	defer e.launchMu.Unlock()
	if e.launched == nil {
		e.launched = map[string]*monitor.Launched{}
	}
	e.launched[id] = l
}

// takeLaunched returns the conmon launched early for container id, if it
// can stand for one launched with o; one that cannot is aborted.
func (e *Engine) takeLaunched(id string, o monitor.Options) *monitor.Launched {
	e.launchMu.Lock()
	l := e.launched[id]
	delete(e.launched, id)
	e.launchMu.Unlock()
	if l == nil {
		return nil
	}
	if !l.Serves(o) {
		logrus.Debugf("conmon launched early for %s does not match its start: launching another", id)
		l.Abort()
		return nil
	}
	return l
}
