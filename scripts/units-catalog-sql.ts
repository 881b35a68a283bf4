// Writes the unit catalog data migration from the vendored catalogs:
//   npx tsx scripts/units-catalog-sql.ts
// A change to src/modules/units/catalog/ or units.catalog.ts means a new migration, not an edit of this one
// once it has shipped (applied migrations are checked by hash): pass another file name then.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MIGRATIONS_DIR } from '../src/core/db/migrate.ts'
import { buildCatalog, renderCatalogSql } from '../src/modules/units/units.catalog.ts'

const file = join(MIGRATIONS_DIR, process.argv[2] ?? '0003_units_catalog.sql')
const catalog = buildCatalog()
writeFileSync(file, renderCatalogSql(catalog))
console.log(`${file}: ${catalog.types.length} types, ${catalog.units.length} units, ${catalog.systems.length} systems, ${catalog.categories.length} categories, ${catalog.defaults.length} defaults`)
