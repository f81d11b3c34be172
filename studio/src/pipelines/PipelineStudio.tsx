// The pipeline studio, mounted by the console at /pipelines: the list of pipelines, or one of them open
// in the editor. Self-contained: its own antd App (for messages and confirmations) and styles.
import { App } from 'antd';
import { useState } from 'react';
import '@xyflow/react/dist/style.css';
import { Editor } from './Editor.js';
import { PipelineList } from './PipelineList.js';
import './studio.css';

export default function PipelineStudio() {
  const [openId, setOpenId] = useState<string | null>(null);
  return (
    <App component={false}>
      <div className="pl-studio" data-testid="pipeline-studio">
        {openId ? <Editor pipelineId={openId} onBack={() => setOpenId(null)} /> : <PipelineList onOpen={setOpenId} />}
      </div>
    </App>
  );
}
