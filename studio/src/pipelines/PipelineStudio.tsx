// The pipeline editor (React Flow). Placeholder until the studio lands; the console mounts it at /pipelines.
export default function PipelineStudio() {
  return <div data-testid="pipeline-studio">Pipelines</div>;
}
