#!/usr/bin/env python3
"""Zip a test FMU: make_fmu.py OUT.fmu SO VARIANT. VARIANT picks the
modelDescription.xml (and archive layout) for a good or a broken FMU."""
import sys
import zipfile

out, so, variant = sys.argv[1:4]

VARS = '''
  <ScalarVariable name="x" valueReference="0" causality="output" variability="continuous" initial="calculated">
   <Real unit="m"/></ScalarVariable>
  <ScalarVariable name="k" valueReference="1" causality="parameter" variability="tunable"><Real start="1.0" unit="1/s"/></ScalarVariable>
  <ScalarVariable name="x0" valueReference="2" causality="parameter" variability="fixed"><Real start="2.0" unit="m"/></ScalarVariable>
  <ScalarVariable name="u" valueReference="3" causality="input" variability="continuous"><Real start="0.0"/></ScalarVariable>
  <ScalarVariable name="n" valueReference="4" causality="output" variability="discrete" initial="calculated"><Integer/></ScalarVariable>
  <ScalarVariable name="below" valueReference="5" causality="output" variability="discrete" initial="calculated"><Boolean/></ScalarVariable>
  <ScalarVariable name="fail_at" valueReference="6" causality="parameter" variability="fixed"><Integer start="-1"/></ScalarVariable>
  <ScalarVariable name="label" valueReference="7" causality="parameter" variability="fixed"><String start="a"/></ScalarVariable>
'''
EXTRA = {'dup': '  <ScalarVariable name="x(" valueReference="8" causality="output"><Real/></ScalarVariable>\n'
                '  <ScalarVariable name="x)" valueReference="9" causality="output"><Real/></ScalarVariable>\n'}
version = '3.0' if variant == 'v3' else '1.0' if variant == 'v1' else '2.0'
iface = '<ModelExchange modelIdentifier="decay"/>' if variant == 'me' else '<CoSimulation modelIdentifier="decay"/>'
md = f'''<?xml version="1.0" encoding="UTF-8"?>
<fmiModelDescription fmiVersion="{version}" modelName="decay" guid="{{decay-1}}">
 {iface}
 <ModelVariables>{VARS}{EXTRA.get(variant, '')} </ModelVariables>
</fmiModelDescription>
'''
if variant == 'badxml':
    md = md.replace('</ModelVariables>', '</ModelVariabls>')
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    if variant != 'nomd':
        z.writestr('modelDescription.xml', md)
    if variant != 'nobin':
        z.write(so, 'binaries/linux64/decay.so')
    else:
        z.write(so, 'binaries/win64/decay.dll')
    if variant == 'slip':
        z.writestr('../escape.txt', 'x')
