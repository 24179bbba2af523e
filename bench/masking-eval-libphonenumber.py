import json, subprocess, sys, xml.etree.ElementTree as ET
REPO='/work/.mirror/google+libphonenumber/repo'
COMMIT=subprocess.check_output(['git','-C',REPO,'rev-parse','HEAD'],text=True).strip()
xml=subprocess.check_output(['git','-C',REPO,'show',f'{COMMIT}:resources/PhoneNumberMetadata.xml'])
root=ET.fromstring(xml)
n=0
for t in root.iter('territory'):
    tid=t.get('id'); cc=t.get('countryCode')
    if tid=='001': continue
    for kind in ('fixedLine','mobile'):
        el=t.find(kind)
        if el is None: continue
        ex=el.find('exampleNumber')
        if ex is None or not ex.text: continue
        print(json.dumps({'region':tid,'countryCode':cc,'kind':kind,'nationalNumber':ex.text.strip()}))
        n+=1
print(n, COMMIT, file=sys.stderr)
