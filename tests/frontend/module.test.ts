import { plugin } from '../../src/plugin/module';
import { DataSource } from '../../src/plugin/datasource';
import { ConfigEditor } from '../../src/plugin/components/ConfigEditor';
import { QueryEditor } from '../../src/plugin/components/QueryEditor';
import { VariableQueryEditor } from '../../src/plugin/components/VariableQueryEditor';
import { installTemplateSrv, makeDatasource } from './helpers';
import pluginJson from '../../plugin.json';

describe('module.ts', () => {
  it('exports the DataSourcePlugin Grafana looks for, with both editors', () => {
    expect(plugin.DataSourceClass).toBe(DataSource);
    expect(plugin.components.ConfigEditor).toBe(ConfigEditor);
    expect(plugin.components.QueryEditor).toBe(QueryEditor);
  });

  it('datasource instances carry variable and annotation support', () => {
    installTemplateSrv({});
    const ds = makeDatasource();
    expect((ds.variables as unknown as { editor: unknown }).editor).toBe(VariableQueryEditor);
    expect(ds.annotations?.prepareQuery).toBeDefined();
  });

  it('plugin.json declares a backend datasource with alerting, annotations and metrics', () => {
    expect(pluginJson).toMatchObject({
      id: 'pgpulse-postgres-datasource',
      type: 'datasource',
      backend: true,
      executable: 'gpx_pgpulse',
      alerting: true,
      annotations: true,
      metrics: true,
    });
    expect(pluginJson.id).toMatch(/^[0-9a-z]+-([0-9a-z]+-)?(app|panel|datasource)$/);
    expect(pluginJson.dependencies.grafanaDependency).toMatch(/^>=\d+\.\d+\.\d+$/);
    expect(pluginJson.info.logos.small).toBe('img/logo.svg');
  });
});
