// One pipeline open for editing: loads its draft and the lookups, and ties the toolbar, palette, canvas,
// side panel, test run, publishing and version history together. The graph itself lives in the store.
import { Alert, App, Button, Spin } from 'antd';
import { ReactFlowProvider } from '@xyflow/react';
import { useCallback, useEffect, useState } from 'react';
import { api, describeError, type Pipeline } from './api.js';
import { Canvas } from './Canvas.js';
import { useT } from './i18n.js';
import { NodePanel } from './NodePanel.js';
import { Palette } from './Palette.js';
import { PublishModal } from './PublishModal.js';
import { graphText, isDirty, toGraph, useEditor } from './store.js';
import { TestRunDrawer } from './TestRunDrawer.js';
import { Toolbar } from './Toolbar.js';
import { useValidation } from './useValidation.js';
import { VersionsDrawer } from './VersionsDrawer.js';

type Open = 'test' | 'publish' | 'history' | null;

/** Whether a key press happened while typing, where Ctrl+Z belongs to the text field. */
const inTextField = (target: EventTarget | null) =>
  target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));

export function Editor({ pipelineId, onBack }: { pipelineId: string; onBack: () => void }) {
  const t = useT();
  const { message, modal } = App.useApp();
  const [pipeline, setPipeline] = useState<Pipeline | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [lookupsLoaded, setLookupsLoaded] = useState(false);
  const [saving, setSaving] = useState(false);
  const [open, setOpen] = useState<Open>(null);
  const [viewing, setViewing] = useState<number | null>(null);
  useValidation(lookupsLoaded);

  useEffect(() => {
    let stale = false;
    api.get(pipelineId).then(
      (p) => {
        if (stale) return;
        useEditor.getState().load(p.draft.graph);
        setPipeline(p);
      },
      (err: Error) => !stale && setLoadError(err.message),
    );
    api.lookups().then((l) => {
      if (stale) return;
      useEditor.getState().setLookups(l);
      setLookupsLoaded(true);
    });
    return () => {
      stale = true;
    };
  }, [pipelineId]);

  /** Saves the draft if it changed. The server's answer checks it against what really exists. */
  const save = useCallback(async (): Promise<boolean> => {
    const state = useEditor.getState();
    if (!isDirty(state)) return true;
    const graph = toGraph(state.nodes, state.edges);
    setSaving(true);
    try {
      const saved = await api.save(pipelineId, { graph });
      useEditor.getState().markSaved();
      if (saved.validation) useEditor.getState().setIssues(saved.validation.errors);
      setPipeline((p) => (p ? { ...p, ...saved } : saved));
      message.success(t('editor.saved'));
      return true;
    } catch (err) {
      message.error(describeError(t, err));
      return false;
    } finally {
      setSaving(false);
    }
  }, [pipelineId, message, t]);

  /** After publishing or a rollback: the new state, and the draft if the server changed it. */
  const reload = useCallback(async () => {
    const fresh = await api.get(pipelineId);
    setPipeline(fresh);
    const state = useEditor.getState();
    if (!state.readOnly && !isDirty(state) && graphText(fresh.draft.graph) !== graphText(toGraph(state.nodes, state.edges))) state.load(fresh.draft.graph);
  }, [pipelineId]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || inTextField(e.target)) return;
      const key = e.key.toLowerCase();
      const { undo, redo } = useEditor.getState();
      if (key === 'z' && !e.shiftKey) undo();
      else if ((key === 'z' && e.shiftKey) || key === 'y') redo();
      else if (key === 's') void save();
      else return;
      e.preventDefault();
    };
    // an unsaved draft is lost with the tab: the browser asks first
    const onUnload = (e: BeforeUnloadEvent) => {
      if (isDirty(useEditor.getState())) e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    window.addEventListener('beforeunload', onUnload);
    return () => {
      window.removeEventListener('keydown', onKey);
      window.removeEventListener('beforeunload', onUnload);
    };
  }, [save]);

  const back = () => {
    if (!isDirty(useEditor.getState())) return onBack();
    modal.confirm({ title: t('editor.leaveUnsaved'), onOk: onBack });
  };

  const view = (version: number | null) => {
    if (version === null) useEditor.getState().backToDraft();
    setViewing(version);
  };

  const rename = async (name: string) => {
    if (!name.trim() || name === pipeline?.name) return;
    try {
      const saved = await api.save(pipelineId, { name: name.trim() });
      setPipeline((p) => (p ? { ...p, name: saved.name } : p));
    } catch (err) {
      message.error(describeError(t, err));
    }
  };

  if (loadError) return <Alert type="error" title={t('editor.loadFailed', { message: loadError })} action={<Button onClick={onBack}>{t('editor.back')}</Button>} />;
  if (!pipeline) return <Spin className="pl-loading" />;

  return (
    <ReactFlowProvider>
      <div className="pl-editor" data-testid="pipeline-editor">
        <Toolbar
          pipeline={pipeline}
          saving={saving}
          onBack={back}
          onRename={rename}
          onSave={() => void save()}
          onTest={() => setOpen('test')}
          onPublish={() => setOpen('publish')}
          onHistory={() => setOpen('history')}
        />
        {viewing !== null && (
          <Alert
            type="info"
            banner
            title={t('versions.viewing', { version: viewing })}
            action={
              <Button size="small" onClick={() => view(null)} data-testid="back-to-draft">
                {t('versions.backToDraft')}
              </Button>
            }
          />
        )}
        <div className="pl-workspace">
          <Palette />
          <Canvas />
          <NodePanel />
        </div>
        <TestRunDrawer open={open === 'test'} onClose={() => setOpen(null)} pipelineId={pipelineId} save={save} />
        <PublishModal open={open === 'publish'} onClose={() => setOpen(null)} pipelineId={pipelineId} save={save} onPublished={() => void reload()} />
        <VersionsDrawer
          open={open === 'history'}
          onClose={() => setOpen(null)}
          pipelineId={pipelineId}
          publishedVersion={pipeline.published?.version}
          onRolledBack={() => void reload()}
          viewing={viewing}
          onView={view}
        />
      </div>
    </ReactFlowProvider>
  );
}
